"""Leaf helpers that import nothing of bakec but ``bakec.errors``, one home per concept.

``golang`` (strconv, durations), ``units`` (docker/go-units sizes), ``platform`` (containerd's
platforms), ``safepath`` (paths inside a root), ``compression`` (layer and archive streams),
``gopath``, ``gitref``.
"""
