FROM alpine
COPY --chmod=u+q a b
