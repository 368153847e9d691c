"""The mistakes a new user makes at the command line, each answered with what to type instead."""

from click.testing import CliRunner

from roadseg.cli import main, segment_video_cmd


def test_an_output_named_without_o_is_answered_with_the_command_that_names_it(tmp_path):
    # (was: "Error: Got unexpected extra argument (out.mp4)", and nothing on what to type)
    out = tmp_path / "my out.mp4"
    for command, args, prog in ((segment_video_cmd, [], "segment-video"), (main, ["segment"], "roadseg segment")):
        r = CliRunner().invoke(command, [*args, "clip.mp4", str(out)], prog_name=prog.split()[0])
        assert r.exit_code == 2 and "Traceback" not in r.output, r.output
        assert f"name the output with -o: {prog} clip.mp4 -o '{out}'" in r.output, r.output
    assert not out.exists()


def test_a_glob_the_shell_expanded_is_answered_with_how_to_pass_it_whole(tmp_path):
    # `segment-video frames/*.jpg -o seg/` unquoted: the shell gives every file; was "Got unexpected extra argument
    # (frames/b.jpg)", which names a file the user never typed
    frames = [tmp_path / f"{n}.jpg" for n in "abc"]
    for frame in frames:
        frame.write_bytes(b"")
    for args in ([*map(str, frames), "-o", str(tmp_path / "seg")], [*map(str, frames)]):
        r = CliRunner().invoke(segment_video_cmd, args, prog_name="segment-video")
        assert r.exit_code == 2, r.output
        assert f"Got unexpected extra arguments ({frames[1]} {frames[2]}): segment-video takes one INPUT; quote a glob" \
            in r.output, r.output
    assert not (tmp_path / "seg").exists()
