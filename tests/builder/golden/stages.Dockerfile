ARG GO=1.22
ARG DEBIAN=bookworm
FROM golang:${GO}-${DEBIAN} AS base
ARG GO
RUN echo go $GO, debian ${DEBIAN:-not redeclared}

FROM base AS build-a
RUN --mount=type=cache,target=/root/.cache go build ./a

FROM base AS build-b
RUN go build ./b

FROM alpine AS tools
RUN apk add git

FROM scratch AS release
COPY --from=build-a /a /a
COPY --from=build-b /b /b
RUN --mount=type=bind,from=tools,source=/usr/bin/git,target=/git true

FROM alpine AS test
ARG TARGETPLATFORM
ARG EXTRA=default
COPY --from=2 /b /b
RUN echo testing on $TARGETPLATFORM with $EXTRA
