FROM alpine
RUN <<EOF
echo hello $HOME
EOF
RUN <<-"EOT" bash -x
	echo tabs stripped
		nested
	EOT
RUN python3 <<PY > /out && cat <<SH2
print("hi")
PY
echo second
SH2
ARG WHO=world
COPY <<greeting.txt <<'raw.txt' /dest/
hello $WHO
greeting.txt
no $WHO here
raw.txt
COPY --chmod=644 <<-EOF /etc/motd
	Welcome ${WHO}
	EOF
ONBUILD RUN <<EOF
trigger body
EOF
RUN ["echo", "<<EOF"]
