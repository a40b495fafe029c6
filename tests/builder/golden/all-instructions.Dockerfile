# syntax=docker/dockerfile:1.7
# check=skip=StageNameCasing
# A comment after the directives.
ARG BASE=alpine
ARG VERSION=3.20
ARG UNSET

FROM --platform=$BUILDPLATFORM ${BASE}:${VERSION} AS Builder
ARG VERSION
ARG TARGETARCH
ENV GOPATH=/go PATH="/go/bin:$PATH" \
    ARCH=${TARGETARCH}
ENV LEGACY a value with spaces
LABEL org.opencontainers.image.version="$VERSION" maintainer='me "quoted"'
WORKDIR $GOPATH/src
RUN --mount=type=cache,target=/root/.cache,id=gocache,sharing=locked \
    --mount=type=bind,source=.,target=/src,rw \
    --mount=type=secret,id=token,required \
    --mount=type=tmpfs,target=/tmp,size=64m \
    --network=none \
    go build -o /out/app ./... && echo $PATH
RUN ["/bin/sh", "-c", "echo exec form \u00e9"]
COPY --chown=1000:1000 --chmod=0755 --link --exclude=*.md --exclude=docs/ src/ "$GOPATH/src/"
ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d https://example.com/a.tar.gz /tmp/
ADD --keep-git-dir=true https://github.com/moby/buildkit.git#v0.14 /buildkit
EXPOSE 80 443/tcp 7000-7010/udp
USER ${USER:-app}:app
VOLUME ["/data", "/cache"]
VOLUME /logs /tmp/$VERSION
STOPSIGNAL SIGTERM
MAINTAINER someone@example.com

FROM scratch
COPY --from=builder --chmod=u+x,g=rx /out/app /app
COPY --from=0 --parents /go/src/./a/b /
SHELL ["/bin/sh", "-eu", "-c"]
ENTRYPOINT ["/app"]
CMD ["--help"]
HEALTHCHECK --interval=30s --timeout=1m30s --start-period=5s --start-interval=500ms --retries=3 \
  CMD ["/app", "health"]
ONBUILD COPY . /src
ONBUILD RUN make
