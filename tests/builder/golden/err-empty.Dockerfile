# a comment

