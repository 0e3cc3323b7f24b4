FROM busybox
ARG NAME=world
RUN <<EOF
echo "hello $NAME"
EOF
RUN <<-EOT sh -e
	echo tabs are stripped
	EOT
RUN <<'EOF' cat > /quoted
literal $NAME
EOF
COPY <<greeting.txt <<"raw.txt" /etc/
hello $NAME
greeting.txt
raw $NAME
raw.txt
RUN 3<<CONFIG cat /dev/fd/3 && <<SCRIPT sh
fd three
CONFIG
echo second heredoc
SCRIPT
RUN ["echo", "<<NOTHEREDOC"]
RUN echo '<<ALSONOT'
