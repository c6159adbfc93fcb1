"""The SFU's bookkeeping, without any network: keyframes, numbering, history,
keyframe throttling, bandwidth budget."""

import os

import pytest
from aiortc.rtp import RtpPacket

from adapters.media.sfu.bandwidth import BandwidthBudget
from adapters.media.sfu.keyframe_requests import KeyframeRequestThrottle
from adapters.media.sfu.packet_history import PacketHistory
from adapters.media.sfu.stream_numbering import StreamNumbering
from adapters.media.sfu.vp8_keyframes import descriptor_length, starts_keyframe

KEYFRAME_HEADER = b"\x10\x02\x00"  # P bit clear, then encrypted bytes
INTER_HEADER = b"\x11\x02\x00"


@pytest.mark.parametrize(
    ("descriptor", "length"),
    [
        (b"\x10", 1),  # S=1, PID=0, no extension
        (b"\x90\x80\x05", 3),  # picture ID, 7 bits
        (b"\x90\x80\x85\x00", 4),  # picture ID, 15 bits
        (b"\x90\xe0\x85\x00\x01\x20", 6),  # picture ID, TL0PICIDX, TID
        (b"\x90\x10\x01", 3),  # KEYIDX only
    ],
)
def test_the_keyframe_bit_is_read_right_after_the_payload_descriptor(
    descriptor, length
):
    assert descriptor_length(descriptor + KEYFRAME_HEADER) == length
    assert starts_keyframe(descriptor + KEYFRAME_HEADER + os.urandom(50))
    assert not starts_keyframe(descriptor + INTER_HEADER + os.urandom(50))


def test_only_the_first_packet_of_the_first_partition_starts_a_keyframe():
    assert not starts_keyframe(b"\x00" + KEYFRAME_HEADER)  # not a partition start
    assert not starts_keyframe(b"\x11" + KEYFRAME_HEADER)  # partition 1


def test_truncated_or_random_payloads_never_break_the_keyframe_check():
    for payload in (b"", b"\x90", b"\x90\x80", b"\x90\x80\x85", b"\x10"):
        assert starts_keyframe(payload) is False
    for _ in range(2000):
        starts_keyframe(os.urandom(int.from_bytes(os.urandom(1)) % 8))


def test_numbers_are_shifted_so_gaps_upstream_stay_gaps_downstream():
    numbering = StreamNumbering(90000)
    numbering.start(sequence=1000, timestamp=5000, now=0.0)
    first, first_ts = numbering.rewrite(1000, 5000, now=0.0)
    assert numbering.rewrite(1003, 8000, now=0.1) == (
        (first + 3) % 65536,
        (first_ts + 3000) % 2**32,
    )
    assert numbering.publisher_sequence((first + 3) % 65536) == 1003
    assert numbering.publisher_sequence((first + 4) % 65536) is None  # not sent yet
    with pytest.raises(ValueError):
        numbering.rewrite(999, 4000, now=0.1)  # older than the start


def test_numbers_wrap_around_like_rtp_numbers_do():
    numbering = StreamNumbering(48000)
    numbering.start(sequence=65535, timestamp=2**32 - 10, now=0.0)
    first, first_ts = numbering.rewrite(65535, 2**32 - 10, now=0.0)
    second, second_ts = numbering.rewrite(0, 950, now=0.02)
    assert second == (first + 1) % 65536
    assert second_ts == (first_ts + 960) % 2**32
    assert numbering.publisher_sequence(second) == 0


def test_a_slot_that_shows_another_publisher_continues_its_numbers():
    numbering = StreamNumbering(90000)
    numbering.start(sequence=10, timestamp=0, now=0.0)
    last, last_ts = numbering.rewrite(10, 0, now=0.0)
    numbering.rebind()
    numbering.start(sequence=40000, timestamp=123456, now=0.5)
    following, following_ts = numbering.rewrite(40000, 123456, now=0.5)
    assert following == (last + 1) % 65536
    assert following_ts == (last_ts + 45000) % 2**32
    assert numbering.publisher_sequence(last) is None  # the other publisher's


def test_the_history_keeps_recent_packets_and_knows_duplicates():
    history = PacketHistory(size=4)
    packets = [RtpPacket(sequence_number=n, payload=bytes([n])) for n in range(6)]
    for packet in packets:
        assert history.add(packet)
    assert not history.add(RtpPacket(sequence_number=5))
    assert history.get(5) is packets[5]
    assert history.get(1) is None  # overwritten by 5


def test_keyframe_requests_pass_once_per_interval():
    throttle = KeyframeRequestThrottle(interval=0.5)
    passed = [throttle.allow(now=step * 0.1) for step in range(20)]
    assert passed.count(True) == 4  # at 0.0, 0.5, 1.0, 1.5
    assert throttle.held_back == 16


def test_nine_people_fit_the_patients_minimum_connection():
    budget = BandwidthBudget()
    video = budget.video_target_bps(9)
    assert 8 * (video + budget.audio_bps) <= 4_000_000  # down: the other eight
    assert video + budget.audio_bps <= 2_000_000  # up: one's own
    assert video >= 300_000  # still a usable picture


def test_small_rooms_get_a_better_picture_and_never_more_than_the_cap():
    budget = BandwidthBudget()
    targets = [budget.video_target_bps(n) for n in range(2, 10)]
    assert targets == sorted(targets, reverse=True)
    assert targets[0] == budget.max_video_bps


def test_a_weak_subscriber_lowers_the_target_but_not_below_the_floor():
    budget = BandwidthBudget()
    assert budget.with_estimates(800_000, [600_000, 2_000_000]) == 600_000
    assert budget.with_estimates(800_000, [20_000]) == budget.min_video_bps
    assert budget.with_estimates(800_000, []) == 800_000


def test_a_long_stream_keeps_flowing_and_answering_past_many_wraps():
    numbering = StreamNumbering(90000)
    numbering.start(sequence=100, timestamp=0, now=0.0)
    for n in range(200_000):
        out, _ = numbering.rewrite((100 + n) % 65536, n * 30, now=n / 200)
    assert numbering.publisher_sequence(out) == (100 + 199_999) % 65536
    assert numbering.publisher_sequence((out - 300) % 65536) == (100 + 199_699) % 65536
    late, _ = numbering.rewrite((100 + 199_990) % 65536, 0, now=1000.0)
    assert late == (out - 9) % 65536
