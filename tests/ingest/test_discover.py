import os
import shutil
import subprocess
import sys
import tempfile

import pytest

from archivetag.config import defaults
from archivetag.ingest.discover import Candidate, DiscoveryOptions, Problem, discover
from archivetag.ingest.read import read_file

from .media import as_unprivileged

ODD_NAMES = [
    b"Name With Spaces.wav",
    "東京 テープ 1987.flac".encode(),
    b"two\nlines.mp3",
    b"latin1-\xe9t\xe9.mp3",
    b"-starts-with-dash:colon.mp3",
]


def touch(path: bytes, data: bytes = b"ID3 not really audio") -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as out:
        out.write(data)


@pytest.fixture
def tree(tmp_path) -> bytes:
    """An archive with everything a walk must get right."""
    root = os.fsencode(tmp_path / "archive")
    for rel in [b"a.mp3", b"notes.txt", b".hidden.mp3", b".cache/x.mp3", b"@eaDir/thumb.mp4",
                b"sub/c.MP3", b"sub/take-draft.wav", b"sub/drafts/d.mp3", *ODD_NAMES]:  # fmt: skip
        touch(os.path.join(root, rel))
    os.symlink(b".", os.path.join(root, b"loop"))
    os.symlink(b"sub", os.path.join(root, b"link_to_sub"))
    os.symlink(b"nowhere.mp3", os.path.join(root, b"broken.mp3"))
    os.symlink(b"self.mp3", os.path.join(root, b"self.mp3"))
    os.mkfifo(os.path.join(root, b"fifo.mp3"))
    os.mkfifo(os.path.join(root, b"fifo.txt"))
    return root


def split(items) -> tuple[dict[bytes, Candidate], dict[bytes, Problem]]:
    candidates, problems = {}, {}
    for item in items:
        (candidates if isinstance(item, Candidate) else problems)[item.path] = item
    return candidates, problems


def rel(root: bytes, paths) -> set[bytes]:
    return {os.path.relpath(p, root) for p in paths}


def test_walk_finds_media_and_reports_the_rest(tree):
    options = DiscoveryOptions(exclude=("**/drafts/**", "*-draft.wav"))
    items = discover([tree], options)
    assert iter(items) is items  # a stream, not a list
    candidates, problems = split(items)
    found = rel(tree, candidates)
    assert found == {b"a.mp3", b"sub/c.MP3", *ODD_NAMES}
    reasons = {os.path.relpath(p, tree): (x.status, x.reason) for p, x in problems.items()}
    assert reasons.pop(b"loop") == ("skipped", "symlink loop")
    assert reasons.pop(b"self.mp3") == ("skipped", "symlink loop")
    assert reasons.pop(b"broken.mp3") == ("skipped", "broken symlink")
    assert reasons.pop(b"fifo.mp3") == ("skipped", "not a regular file (fifo)")
    # sub and link_to_sub lead to one folder: walked once, under its real name
    (twice,) = reasons.items()
    assert twice == (b"link_to_sub", ("skipped", "folder already scanned through another path"))


def test_candidates_carry_identity(tree):
    candidates, _ = split(discover([os.path.join(tree, b"a.mp3")]))
    (c,) = candidates.values()
    st = os.stat(c.path)
    assert (c.size, c.mtime_ns, c.device, c.inode) == (
        st.st_size, st.st_mtime_ns, st.st_dev, st.st_ino,
    )  # fmt: skip
    assert c.fingerprint.startswith(f"{st.st_size}:")
    assert os.path.isabs(c.path)


def test_odd_names_are_lossless_and_displayable(tree):
    candidates, _ = split(discover([tree]))
    newline = os.path.join(tree, b"two\nlines.mp3")
    latin = os.path.join(tree, b"latin1-\xe9t\xe9.mp3")
    assert newline in candidates and latin in candidates
    assert "\n" not in candidates[newline].display
    assert candidates[latin].display.endswith("latin1-\\xe9t\\xe9.mp3")


def test_include_hidden_globs_and_extensions(tree):
    hidden = rel(tree, split(discover([tree], DiscoveryOptions(include_hidden=True)))[0])
    assert {b".hidden.mp3", b".cache/x.mp3", b"@eaDir/thumb.mp4"} <= hidden
    only_sub = rel(tree, split(discover([tree], DiscoveryOptions(include=("sub/**",))))[0])
    assert only_sub == {b"sub/c.MP3", b"sub/take-draft.wav", b"sub/drafts/d.mp3"}
    everything = rel(tree, split(discover([tree], DiscoveryOptions(extensions=())))[0])
    assert b"notes.txt" in everything


def test_a_file_named_explicitly_is_taken_whatever_its_extension(tree):
    candidates, _ = split(discover([os.path.join(tree, b"notes.txt")]))
    assert len(candidates) == 1


def test_missing_root_hides_its_subtree(tmp_path):
    (problem,) = discover([tmp_path / "unplugged"])
    assert (problem.status, problem.reason, problem.hides_subtree) == (
        "missing", "root not found", True,
    )  # fmt: skip


def test_files_vanishing_during_the_walk_are_reported(tmp_path):
    for i in range(10):
        (tmp_path / f"f{i}.mp3").write_bytes(b"x")
    items = discover([tmp_path])
    first = next(items)
    for path in tmp_path.iterdir():
        if os.fsencode(path) != first.path:
            path.unlink()
    rest = list(items)
    assert rest and all(
        isinstance(p, Problem) and (p.status, p.reason) == ("missing", "vanished during the scan")
        for p in rest
    )


def _scan_as_unprivileged(root: bytes):
    items = list(discover([root]))
    locked = Candidate(os.path.join(root, b"locked.mp3"), 0, 0, 0, 0, "")
    return items, list(read_file(locked))[-1]


def test_unreadable_file_and_folder_as_an_unprivileged_user():
    # pytest's tmp_path is private to root; nobody must be able to reach the open parts.
    root = os.fsencode(tempfile.mkdtemp(prefix="archivetag-perm-"))
    try:
        os.chmod(root, 0o755)
        touch(os.path.join(root, b"open.mp3"))
        touch(os.path.join(root, b"locked.mp3"))
        touch(os.path.join(root, b"lockeddir/inside.mp3"))
        for path in (root, os.path.join(root, b"open.mp3")):
            os.chmod(path, 0o755)
        os.chmod(os.path.join(root, b"locked.mp3"), 0)
        os.chmod(os.path.join(root, b"lockeddir"), 0)
        items, outcome = as_unprivileged(_scan_as_unprivileged, root)
    finally:
        os.chmod(os.path.join(root, b"lockeddir"), 0o755)
        shutil.rmtree(root)
    candidates, problems = split(items)
    assert rel(root, candidates) == {b"open.mp3"}
    found = {os.path.relpath(p, root): (x.status, x.reason, x.hides_subtree)
             for p, x in problems.items()}  # fmt: skip
    assert found == {
        b"locked.mp3": ("failed", "permission denied", False),
        b"lockeddir": ("failed", "permission denied", True),
    }
    assert (outcome.status, outcome.reason) == ("failed", "permission denied")


def test_odd_names_decode(media, tmp_path):
    root = os.fsencode(tmp_path)
    for name in ODD_NAMES:
        shutil.copy(media / "click.wav", os.path.join(root, name))
    candidates, problems = split(discover([root]))
    assert not problems and len(candidates) == len(ODD_NAMES)
    for candidate in candidates.values():
        outcome = list(read_file(candidate))[-1]
        assert (outcome.status, outcome.warnings) == ("done", ()), candidate.display
        assert outcome.decoded_s == pytest.approx(6.0, abs=0.01)


def test_roots_as_str_or_path_and_overlapping_roots(tmp_path):
    touch(os.fsencode(tmp_path / "a/x.wav"))
    touch(os.fsencode(tmp_path / "b/y.wav"))
    items = list(discover([str(tmp_path / "a"), tmp_path / "b", tmp_path]))
    assert [type(i) for i in items] == [Candidate, Candidate, Problem, Problem]
    assert {i.reason for i in items[2:]} == {"folder already scanned through another path"}


def test_file_growing_during_the_scan_is_reported(tmp_path):
    path = tmp_path / "recording.wav"
    path.write_bytes(b"\0" * 1_000_000)
    writer = subprocess.Popen(
        [sys.executable, "-c",
         f"f = open({str(path)!r}, 'ab', buffering=0)\nwhile True: f.write(b'x' * 4096)"],
    )  # fmt: skip
    try:
        for _ in range(5000):
            (item,) = discover([path])
            if isinstance(item, Problem):
                break
    finally:
        writer.kill()
        writer.wait()
    assert (item.status, item.reason) == (
        "failed", "changed while being fingerprinted (still being written?)",
    )  # fmt: skip


def test_the_one_extension_list_covers_archive_formats_and_nothing_else():
    listed = set(DiscoveryOptions().extensions)
    assert listed == set(defaults()["scan.extensions"])  # default.toml is the one list
    named_in_issue_11 = {"3gp", "3g2", "aifc", "eac3", "mpc", "tta", "asf", "dv", "f4v", "mpa",
                         "voc", "wave", "snd", "rmvb", "amr", "caf", "dsf", "dff", "w64", "mxf"}
    assert named_in_issue_11 <= listed
    pictures_subtitles_playlists_text = {
        "jpg", "jpeg", "png", "gif", "bmp", "tif", "tiff", "webp", "heic", "srt", "vtt", "ass",
        "ssa", "sub", "idx", "sup", "m3u", "m3u8", "pls", "cue", "xspf", "txt", "nfo", "log",
        "pdf", "xml", "json", "md", "doc"}
    assert not listed & pictures_subtitles_playlists_text


def test_files_left_out_by_extension_are_counted(tmp_path, faithful):
    root = os.fsencode(tmp_path)
    shutil.copy(faithful / "memo.3gp", tmp_path / "call.3gp")
    for name in (b"cover.jpg", b"notes.txt", b"film.srt", b"README", b"b.JPG", b".thumbs.jpg",
                 b"upload.tmp"):
        touch(os.path.join(root, name))
    walk = discover([root], DiscoveryOptions(exclude=("*.tmp",)))
    candidates, problems = split(walk)
    assert (rel(root, candidates), problems) == ({b"call.3gp"}, {})
    assert walk.left_out == {".jpg": 2, ".txt": 1, ".srt": 1, "": 1}
    assert list(read_file(*candidates.values()))[-1].status == "done"
