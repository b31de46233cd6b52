# A small monorepo: one shared base image and three services, each built in
# two flavours (release, debug) by a matrix. Everything builds FROM the local
# test registry's busybox image, so it needs no network.
#
#   bakec build --print all          resolved build definition as JSON
#   bakec build                      the six service images (and, through the
#                                    target: link, the base image)
#   TAG=1.2.3 bakec build api-release

variable "TAG" {
  default = "dev"
}

variable "REGISTRY" {
  default = "127.0.0.1:5000/monorepo"
}

variable "BASE_IMAGE" {
  default = "127.0.0.1:5000/busybox:latest"
}

group "default" {
  targets = ["services"]
}

group "all" {
  targets = ["base", "services"]
}

# Shared settings; the leading underscore marks it as not meant to be built.
target "_common" {
  context = "."
  labels = {
    "org.opencontainers.image.version" = TAG
    "org.opencontainers.image.vendor"  = "bakec examples"
  }
}

target "base" {
  inherits   = ["_common"]
  dockerfile = "base/Dockerfile"
  args = {
    BASE_IMAGE = BASE_IMAGE
    TAG        = TAG
  }
  tags = ["${REGISTRY}/base:${TAG}"]
}

# 3 services x 2 flavours = 6 targets: api-release, api-debug, worker-release, ...
# Each service Dockerfile starts `FROM base`; the named context below makes
# that the image of the "base" target above.
target "services" {
  name = "${svc.name}-${flavor}"
  matrix = {
    svc = [
      { name = "api", port = "8080" },
      { name = "worker", port = "9090" },
      { name = "web", port = "8081" },
    ]
    flavor = ["release", "debug"]
  }
  inherits   = ["_common"]
  dockerfile = "services/${svc.name}/Dockerfile"
  contexts = {
    base = "target:base"
  }
  args = {
    FLAVOR = flavor
    PORT   = svc.port
  }
  labels = {
    "org.opencontainers.image.title" = svc.name
  }
  tags = [
    flavor == "release" ? "${REGISTRY}/${svc.name}:${TAG}" : "${REGISTRY}/${svc.name}:${TAG}-${flavor}",
  ]
}
