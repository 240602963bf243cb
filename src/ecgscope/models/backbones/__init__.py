"""Backbone families, one module each; importing this package registers every variant."""

from ecgscope.models.backbones import cardiomorph, ecgfm, hybrid, resnet1d, ssm, stmem  # noqa: F401
