FROM alpine
COPY --from=x a b
COPY --chown=1 \
     --frob=2 a b
