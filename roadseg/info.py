"""Moved to :mod:`roadseg.tools.info`; this name stays importable for ``roadseg.train.loop`` (``cpu_info``)."""

from roadseg.tools.info import collect, cpu_info, format_report

__all__ = ["collect", "cpu_info", "format_report"]
