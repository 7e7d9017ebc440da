"""The real `syndicator run` daemon as a subprocess, over real HTTP on 127.0.0.1."""

from __future__ import annotations
