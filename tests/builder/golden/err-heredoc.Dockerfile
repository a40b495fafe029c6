FROM alpine
RUN cat <<EOF
never closed
