"""``python -m roadseg.cli_entry ...`` runs segment-video (handy where the script is not on PATH)."""

from roadseg.cli import segment_video_cmd

if __name__ == "__main__":
    segment_video_cmd()
