FROM alpine
RUN --mount=type=cache,from=$STAGE,target=/x true
