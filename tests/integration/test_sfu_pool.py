"""Group calls spread over SFU worker processes: several rooms use several
cores, and one room ending leaves the others untouched."""

import asyncio

from tests.support.sfu_participant import SfuTestParticipant, join, sfu_on_loopback


async def test_rooms_run_in_different_workers_and_end_independently():
    morning = [SfuTestParticipant(f"m{n}", slots=1) for n in range(2)]
    evening = [SfuTestParticipant(f"e{n}", slots=1) for n in range(2)]
    try:
        async with sfu_on_loopback(workers=2) as sfu:
            await sfu.create_room("vormittag")
            await sfu.create_room("abend")
            assert sfu.worker_pid("vormittag") != sfu.worker_pid("abend")

            await join(sfu, "vormittag", morning)
            await join(sfu, "abend", evening)
            for me, other in ((morning[0], "m1"), (evening[0], "e1")):
                await me.wait_until(
                    lambda me=me, other=other: me.frames_from(other, "video") >= 5, 15
                )
            assert [s["rooms"] for s in await sfu.stats()] == [1, 1]

            await sfu.close_room("vormittag")
            seen = evening[0].frames_from("e1", "video")
            await evening[0].wait_until(
                lambda: evening[0].frames_from("e1", "video") >= seen + 10, 10
            )
            assert [s["rooms"] for s in await sfu.stats()] == [0, 1]
            await sfu.create_room("nachmittag")  # goes where there is room
            assert sfu.worker_pid("nachmittag") != sfu.worker_pid("abend")
    finally:
        await asyncio.gather(*(p.close() for p in morning + evening))
