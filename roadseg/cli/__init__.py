"""The command line: one ``roadseg`` group (segment, batch, train, export, soup, quantize, release, eval, info,
bench, pack-data) and ``segment-video``, the same command as ``roadseg segment``.

Every command is thin (parse options, build a config, call the library) and wrapped in
:func:`~roadseg.cli.common.handle_errors`: a :class:`~roadseg.errors.RoadsegError` or a signal becomes
one ``Error:`` line and an exit code.
"""

from __future__ import annotations

import click

from roadseg.cli import batch, model, tools, training
from roadseg.cli.segment import segment_video_cmd


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="roadseg")
def main() -> None:
    """roadseg: real-time semantic segmentation of driving video (U-Net-ResNet34, CamVid)."""


for _cmd in (segment_video_cmd, training.train, model.export_cmd, model.soup_cmd, model.quantize_cmd, model.release_cmd,
             model.eval_cmd, tools.info_cmd, tools.bench_cmd, training.pack_data_cmd, batch.batch_cmd):  # fmt: skip
    main.add_command(_cmd)

__all__ = ["main", "segment_video_cmd"]
