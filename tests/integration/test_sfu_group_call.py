"""A group consultation of five through the SFU: everyone sees and hears
everyone else, and the SFU itself never decodes."""

import asyncio

from adapters.media.sfu.bandwidth import BandwidthBudget
from tests.support.sfu_participant import SfuTestParticipant, join, sfu_on_loopback

ROOM = "gruppe-dienstag"


async def test_five_people_see_and_hear_each_other_through_the_sfu():
    group = [SfuTestParticipant(f"teilnehmer-{n}", slots=4) for n in range(5)]
    try:
        async with sfu_on_loopback(workers=1) as sfu:
            await sfu.create_room(ROOM)
            layout = await join(sfu, ROOM, group)
            assert all(
                slot.publisher_id is not None
                for slots in layout.values()
                for slot in slots
            )

            def everyone_from_everyone(video: int, audible: int) -> bool:
                return all(
                    me.frames_from(other.participant_id, "video") >= video
                    and me.audible_from(other.participant_id) >= audible
                    for me in group
                    for other in group
                    if other is not me
                )

            await group[0].wait_until(lambda: everyone_from_everyone(10, 10), 20)
            await asyncio.sleep(1)
            assert everyone_from_everyone(15, 20)  # and it goes on

            [stats] = await sfu.stats()
            assert stats["codecs_refused"] == 0
            assert stats["decoder_threads"] == 0
            assert stats["forwarded"] >= 4 * stats["received"] * 0.9
            assert stats["failed"] == stats["refused"] == 0

            targets = await sfu.bitrate_targets(ROOM)
            assert set(targets) == {p.participant_id for p in group}
            ceiling = BandwidthBudget().video_target_bps(5)
            assert all(0 < target <= ceiling for target in targets.values())
    finally:
        await asyncio.gather(*(p.close() for p in group))


async def test_when_someone_leaves_the_others_go_on_and_a_newcomer_takes_the_slot():
    first, second, third = (SfuTestParticipant(f"p{n}", slots=2) for n in range(3))
    latecomer = SfuTestParticipant("p3", slots=2)
    try:
        async with sfu_on_loopback(workers=1) as sfu:
            await sfu.create_room(ROOM)
            await join(sfu, ROOM, [first, second, third])
            await first.wait_until(lambda: first.frames_from("p2", "video") >= 5, 15)

            layout = await sfu.leave(ROOM, "p2")
            await third.close()
            first.follow(layout)
            seen = first.frames_from("p1", "video")
            await first.wait_until(
                lambda: first.frames_from("p1", "video") >= seen + 10, 10
            )

            layout = await join(sfu, ROOM, [latecomer])
            first.follow(layout)
            assert "p3" in {slot.publisher_id for slot in layout["p0"]}
            await first.wait_until(lambda: first.frames_from("p3", "video") >= 5, 15)
    finally:
        for participant in (first, second, third, latecomer):
            await participant.close()
