FROM alpine
RUN true

FROB the thing
