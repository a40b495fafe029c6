FROM alpine
ARG X
WORKDIR ${X:?must be set}
