"""Random mixes of valid and broken lines only ever end in a plan or a DockerfileError."""

from __future__ import annotations

import random

from dockerfile_support import busybox_images

from bakec.dockerfile import DockerfileError, compile

LINES = [
    "FROM scratch",
    "FROM 127.0.0.1:5000/busybox:latest AS a",
    "FROM a",
    "FROM $X",
    "ARG X=scratch",
    "ARG Y",
    "ENV A=$Y",
    "ENV B ${A:-x}",
    "COPY --from=a / /x",
    "COPY --from=9 / /",
    "COPY <<EOF /f\nhi $A\nEOF",
    "RUN <<EOF\n#!/bin/sh\necho\nEOF",
    "RUN --mount=type=cache,target=/c echo",
    "RUN --mount=type=secret echo",
    "RUN --mount=type=ssh,source=x echo",
    "WORKDIR $A",
    "USER",
    "LABEL a=b c",
    "EXPOSE 80/tcp 1-2/udp",
    "EXPOSE x",
    'VOLUME [""]',
    "HEALTHCHECK --interval=1 CMD x",
    "STOPSIGNAL 9",
    "CMD",
    'ENTRYPOINT ["a"',
    "ONBUILD RUN x",
    "ONBUILD",
    "SHELL []",
    "ADD --checksum=sha256:zz http://x /",
    "COPY --parents a/./b /c/",
    "RUN ${",
    "ENV ${=x",
    "ARG =x",
    "MAINTAINER",
    "FROM --platform=foo/bar scratch",
    "COPY a",
    'RUN ["a", "b"]',
    "ENV X='open",
    "# escape=`",
    "RUN echo \\",
    "\\",
    "FROM scratch AS scratch",
    "ONBUILD COPY --from=a / /",
    "FROM a AS b",
    "COPY --from=b / /",
    "RUN --mount=from=b,target=/m x",
    "WORKDIR rel",
    "ENTRYPOINT []",
    "HEALTHCHECK NONE",
]


def test_random_dockerfiles_never_crash() -> None:
    rng = random.Random(7)
    for _ in range(400):
        text = "\n".join(rng.choice(LINES) for _ in range(rng.randint(1, 8))) + "\n"
        if rng.random() < 0.7:
            text = "FROM scratch\n" + text
        try:
            compile(
                text,
                base_image_configs=busybox_images(),
                check_entitlements=False,
                target=rng.choice(["", "a", "b"]),
            )
        except DockerfileError:
            pass
