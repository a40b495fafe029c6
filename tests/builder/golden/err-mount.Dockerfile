FROM alpine
  RUN --mount=type=cache,target=/c,mode=0755,uid=1 \
      --mount=type=bind,target=/x,mode=0600 true
