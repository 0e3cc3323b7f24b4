# syntax=docker/dockerfile:1.6
ARG GO_VERSION=1.21
ARG ALPINE_VERSION=3.19
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-alpine${ALPINE_VERSION} AS build
ARG TARGETOS TARGETARCH
ARG GO_VERSION
WORKDIR /src
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=bind,source=go.sum,target=go.sum \
    go mod download -x
RUN --mount=type=cache,target=/root/.cache/go-build,id=gobuild-$TARGETARCH \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -o /bin/server .

FROM alpine:${ALPINE_VERSION} AS final
RUN --network=none adduser -D -u 10001 appuser
USER appuser
COPY --from=build --chown=appuser:appuser --chmod=0755 /bin/server /bin/
EXPOSE 8000
ENTRYPOINT [ "/bin/server" ]

from final as debug
copy --from=0 /src /src
