FROM busybox
ENV abc=hello
ENV abc=bye def=$abc
ENV ghi=$abc
ENV EMPTY=
ENV unquoted=${abc} quoted="${abc} there" single='$abc' escaped=\$abc
ENV dflt=${missing:-fallback} dflt2=${EMPTY:-fallback} dflt3=${EMPTY-fallback}
ENV alt=${abc:+alt} alt2=${EMPTY:+alt} alt3=${EMPTY+alt} alt4=${missing+alt}
ENV nested=${missing:-${abc}-x}
ENV FILE=archive.tar.gz
ENV trim1=${FILE%.*} trim2=${FILE%%.*} trim3=${FILE#*.} trim4=${FILE##*.} swap=${FILE/tar/zip}
WORKDIR /srv/$abc
USER ${abc}:${abc}
LABEL "com.example.$abc"="v=$abc" other=two\ words
EXPOSE $PORT 80/$PROTO
VOLUME ["/data/$abc"]
STOPSIGNAL SIG${abc}
ADD --chown=$abc:$abc file-$abc.txt /dst/$abc/
RUN echo $abc ${abc}
CMD echo $abc
ONBUILD COPY $abc /x
