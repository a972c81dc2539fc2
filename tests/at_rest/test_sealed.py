"""Recordings sealed at rest (issue 24): the format read back by hand with ``cryptography`` (not through our reader),
the spools and the capture encoder writing sealed files that equal the plain ones once opened, a crash's torn
record, repair, wrong and missing keys, damage, key rotation, the keyring file and ``calltape keys``."""

from __future__ import annotations

import base64
import hashlib
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from calltape.at_rest.keyring import KEYRING, Keyring, KeyUnavailableError, Seal, parse_keyring
from calltape.at_rest.sealed import DamagedRecordError, create_file, read_plain, rewrap_file, unseal_bytes
from calltape.media.g711 import G711
from calltape.media.taps import TapDirection
from calltape.recording.capture import CallCapture
from calltape.recording.capture_file import CaptureWriter
from calltape.recording.encode_job import EncodeJob
from calltape.recording.encoder import encode
from calltape.recording.spool import Mp3Spool, WavSpool, file_facts, repair_wav
from tests.audio import tone

K1, K2 = bytes(range(32)), bytes(range(32, 64))
KEYS = Keyring({"k1": K1, "k2": K2})
ULAW = G711("PCMU", 0)


def by_hand(data: bytes, account_key: bytes, kind: bytes = b"A") -> tuple[str, bytes]:
    """(key id, plaintext) of a sealed file (*kind*: b"A" its audio, b"C" a capture), read as the format says: an
    independent reader of it."""
    assert data[:8] == b"CTSEAL1\n"
    key_id = data[8:72].rstrip(b"\0").decode()
    nonce, wrapped = data[72:84], data[84:132]
    data_key = AESGCM(account_key).decrypt(nonce, wrapped, b"CTSEAL1\n" + key_id.encode())
    plain, at, index = [], 132, 0
    while at < len(data):
        (length,) = struct.unpack_from("<I", data, at)
        record_nonce = data[at + 4 : at + 16]
        end = at + 16 + length + 16
        plain.append(AESGCM(data_key).decrypt(record_nonce, data[at + 16 : end], struct.pack("<Q", index) + kind))
        at, index = end, index + 1
    return key_id, b"".join(plain)


def _write(spool: WavSpool | Mp3Spool, pcm: bytes) -> None:
    for start in range(0, len(pcm), 16000):
        spool.write(pcm[start : start + 16000])
    spool.close()


@pytest.mark.parametrize("kind", [WavSpool, Mp3Spool])
def test_a_sealed_spool_holds_the_plain_file_encrypted_and_nothing_of_the_audio(
    tmp_path: Path, kind: type[WavSpool] | type[Mp3Spool]
) -> None:
    pcm = tone(440, 3.0)
    _write(kind(tmp_path / "plain", 8000, 1), pcm)
    sealed_spool = kind(tmp_path / "sealed", 8000, 1, seal=Seal.new("k1", KEYS))
    _write(sealed_spool, pcm)
    plain, sealed = (tmp_path / "plain").read_bytes(), (tmp_path / "sealed").read_bytes()
    assert by_hand(sealed, K1) == ("k1", plain)
    assert read_plain(tmp_path / "sealed", KEYS) == plain
    for start in range(len(plain) // 4, len(plain) - 64, len(plain) // 8):  # no stretch of the file is in the clear
        assert plain[start : start + 32] not in sealed
    facts = file_facts(tmp_path / "sealed", 0, sealed_spool.seal)
    assert (facts.size, facts.sha256) == (len(plain), hashlib.sha256(plain).hexdigest())


def test_a_sealed_capture_encodes_to_the_same_file_as_a_plain_one(tmp_path: Path) -> None:
    frames = [ULAW.encode(tone(440, 0.02, amplitude=6000 + 10 * n)) for n in range(150)]
    seal = Seal.new("k2", KEYS)
    for name, sealed_with in (("plain", None), ("sealed", seal)):
        capture = CallCapture(
            CaptureWriter(tmp_path / f"{name}.capture", sealed_with), limit_samples=10**9, on_stop=print
        )
        for n, frame in enumerate(frames):
            capture(TapDirection.IN, frame, n * 160, ULAW)
            capture(TapDirection.OUT, frame, n * 160, ULAW)
            if n % 50 == 49:
                capture.flush(n * 160)
        capture.finish(150 * 160)
        raw = (tmp_path / f"{name}.capture").read_bytes()
        assert (frames[70][:40] in raw) is (sealed_with is None)
        job = EncodeJob(
            str(tmp_path / f"{name}.capture"), str(tmp_path / f"{name}.wav"), "wav", 8000, 2, seal=sealed_with
        )
        result = encode(job)
        assert result.samples == 150 * 160 and result.counts.written == 300
    assert by_hand((tmp_path / "sealed.wav").read_bytes(), K2)[1] == (tmp_path / "plain.wav").read_bytes()


def test_a_record_torn_by_a_crash_is_left_out_and_repair_finishes_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(KEYRING, "_keys", {"k1": K1})  # recovery opens files with the node's keyring
    path = tmp_path / "r.wav"
    spool = WavSpool(path, 8000, 1, seal=Seal.new("k1", KEYS))
    spool.write(tone(440, 2.0))  # two batches on disk, then the process dies: no header patch, a torn record
    spool.flush()
    with path.open("ab") as fh:
        fh.write(struct.pack("<I", 16000) + bytes(100))
    samples, rate, channels = repair_wav(path)
    assert (samples, rate, channels) == (16000, 8000, 1)
    plain = read_plain(path, KEYS)
    assert len(plain) == 44 + 32000 and struct.unpack_from("<I", plain, 40)[0] == 32000
    assert plain[44:] == tone(440, 2.0)


def test_wrong_missing_and_damaged_keys_say_why(tmp_path: Path) -> None:
    path = tmp_path / "r.wav"
    _write(WavSpool(path, 8000, 1, seal=Seal.new("k1", KEYS)), tone(440, 1.0))
    with pytest.raises(KeyUnavailableError, match="'k1' is not in this node's keyring"):
        read_plain(path, Keyring({"k2": K2}))
    with pytest.raises(KeyUnavailableError, match="does not open this recording"):
        read_plain(path, Keyring({"k1": K2}))
    data = bytearray(path.read_bytes())
    data[-20] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(DamagedRecordError):
        read_plain(path, KEYS)


def test_rewrapping_changes_the_header_only_and_the_new_key_alone_opens_it(tmp_path: Path) -> None:
    path = tmp_path / "r.mp3"
    _write(Mp3Spool(path, 8000, 1, seal=Seal.new("k1", KEYS)), tone(440, 2.0))
    before = path.read_bytes()
    assert rewrap_file(path, "k2", KEYS) and not rewrap_file(path, "k2", KEYS)
    after = path.read_bytes()
    assert after[132:] == before[132:] and after[:132] != before[:132]  # the audio's records are untouched
    assert by_hand(after, K2) == ("k2", by_hand(before, K1)[1])
    assert unseal_bytes(after, Keyring({"k2": K2})) == by_hand(before, K1)[1]
    with pytest.raises(KeyUnavailableError):
        read_plain(path, Keyring({"k1": K1}))


def test_a_sealed_file_patched_in_place_reseals_what_it_touches(tmp_path: Path) -> None:
    seal = Seal.new("k1", KEYS)
    with create_file(tmp_path / "x", seal) as fh:
        fh.write(b"a" * 10)
        fh.write(b"b" * 10)
        fh.seek(5)
        fh.write(b"XXXXXXXXXX")  # across two records
        fh.seek(0, 2)
        fh.write(b"c" * 3)
        fh.truncate(18)
    assert by_hand((tmp_path / "x").read_bytes(), K1)[1] == b"aaaaaXXXXXXXXXXbbb"


def test_the_keyring_file_takes_keys_inline_or_from_the_environment_and_names_a_bad_line() -> None:
    inline = base64.b64encode(K1).decode()
    text = f"# comment\nk1 {inline}\n\nk2 env:KEY_TWO  # from the environment\n"
    assert parse_keyring(text, {"KEY_TWO": base64.b64encode(K2).decode()}) == {"k1": K1, "k2": K2}
    for bad, reason in (
        ("k1 abc", "line 1: the key of 'k1' is not 32 bytes"),
        (f"k1 {inline}\nk1 {inline}", "line 2: 'k1' is given twice"),
        ("k/1 x", "line 1: expected a key id"),
        ("k1 env:NOPE", "line 1: the environment variable NOPE is not set"),
    ):
        with pytest.raises(ValueError, match=reason):
            parse_keyring(bad, {})


def test_calltape_keys_makes_a_key_and_decrypts_a_sealed_file(tmp_path: Path) -> None:
    made = subprocess.run([sys.executable, "-m", "calltape", "keys", "new", "acme-1"], capture_output=True, text=True)
    assert made.returncode == 0
    key_id, key = made.stdout.split()
    assert key_id == "acme-1" and len(base64.b64decode(key)) == 32
    keyring = tmp_path / "keys"
    keyring.write_text(made.stdout)
    path = tmp_path / "r.wav"
    _write(WavSpool(path, 8000, 1, seal=Seal.new("acme-1", Keyring({"acme-1": base64.b64decode(key)}))), tone(440, 1))
    out = tmp_path / "plain.wav"
    args = [sys.executable, "-m", "calltape", "keys", "decrypt", str(path), "--recording-keys", str(keyring)]
    assert subprocess.run([*args, "-o", str(out)], capture_output=True).returncode == 0
    samples = np.frombuffer(out.read_bytes()[44:], "<i2")
    assert out.read_bytes()[:4] == b"RIFF" and samples.tobytes() == tone(440, 1)
    keyring.write_text(f"acme-1 {base64.b64encode(K1).decode()}\n")
    wrong = subprocess.run([*args, "-o", str(out)], capture_output=True, text=True)
    assert wrong.returncode == 2 and wrong.stderr.count("\n") == 1 and "wrong key" in wrong.stderr


def test_a_record_cannot_be_moved_between_a_recordings_capture_and_its_audio(tmp_path: Path) -> None:
    """The two files share the recording's data key: each record binds which kind of file it belongs to."""
    seal = Seal.new("k1", KEYS)
    for name in ("r.capture", "r.wav"):
        with create_file(tmp_path / name, seal) as fh:
            fh.write(b"0123456789")
    capture, audio = (tmp_path / "r.capture").read_bytes(), (tmp_path / "r.wav").read_bytes()
    assert by_hand(capture, K1, b"C")[1] == by_hand(audio, K1)[1] == b"0123456789"
    (tmp_path / "r.wav").write_bytes(audio[:132] + capture[132:])  # the capture's record in the audio's place
    with pytest.raises(DamagedRecordError):
        read_plain(tmp_path / "r.wav", KEYS)
