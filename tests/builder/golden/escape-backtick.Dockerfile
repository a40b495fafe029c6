# escape=`
FROM mcr.example.com/windows:ltsc2022
ENV DIR=C:\\app NAME="a`"b"
WORKDIR $DIR
RUN echo one `
    two `

    # a comment inside the continuation
    three
COPY a` b.txt c\\d.txt $DIR/
LABEL x=`$DIR y="$DIR"
