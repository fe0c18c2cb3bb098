import pytest

from archivetag.ingest.globs import GlobSet
from archivetag.vocabulary import display_path


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (b"/a/b c.mp3", "/a/b c.mp3"),
        ("/a/Überspielung 東京.flac".encode(), "/a/Überspielung 東京.flac"),
        (b"/a/two\nlines.wav", "/a/two\\nlines.wav"),
        (b"/a/latin1-\xe9t\xe9.mp3", "/a/latin1-\\xe9t\\xe9.mp3"),
        (b"/a/bell\x07.wav", "/a/bell\\x07.wav"),
        ("/a/\u202eevil.mp3".encode(), "/a/\\u202eevil.mp3"),
    ],
)
def test_display_path_is_one_printable_line(raw, shown):
    assert display_path(raw) == shown


@pytest.mark.parametrize(
    ("patterns", "rel", "matches"),
    [
        (("*.tmp",), b"deep/down/x.tmp", True),
        (("*.tmp",), b"deep/down/x.tmp.mp3", False),
        (("**/@eaDir/**",), b"@eaDir", True),
        (("**/@eaDir/**",), b"shows/@eaDir/thumb.mp4", True),
        (("**/@eaDir/**",), b"shows/@eaDirty/a.mp4", False),
        (("2019/*.wav",), b"2019/a.wav", True),
        (("2019/*.wav",), b"2019/sub/a.wav", False),
        (("2019/**/*.wav",), b"2019/sub/a.wav", True),
        (("take?.wav",), b"take1.wav", True),
        (("take[!0-9].wav",), b"take1.wav", False),
        (("*.mp3",), b"dir/\xff\xfe.mp3", True),
        ((), b"a.wav", False),
    ],
)
def test_globs(patterns, rel, matches):
    assert GlobSet(patterns).match(rel) is matches


def test_bad_glob_is_a_clear_error():
    with pytest.raises(ValueError, match="closing"):
        GlobSet(("take[1.wav",))
