"""The pipe to an SFU worker carries large requests whole, also when the web
process runs on uvloop, whose add_reader makes a descriptor non-blocking."""

import asyncio

import uvloop

from adapters.media.sfu import Joined, SfuPool, SfuSettings, UnusableOffer

# Far more than a pipe's buffer, as several browsers' offers arriving at once.
LARGE_OFFER = "v=0\r\n" + ("a=x-filler:" + "y" * 200 + "\r\n") * 2000


def test_offers_sent_at_once_reach_the_worker_whole_under_uvloop() -> None:
    async def eight_offers_at_once() -> list[Joined | BaseException]:
        async with SfuPool(SfuSettings(workers=1, loopback_only=True)) as pool:
            await pool.create_room("gruppe")
            answers = await asyncio.gather(
                *(pool.join("gruppe", f"p{n}", LARGE_OFFER) for n in range(8)),
                return_exceptions=True,
            )
            # The worker is still there and answers.
            assert (await pool.stats())[0]["rooms"] >= 1
            return answers

    answers = uvloop.run(eight_offers_at_once())
    assert all(isinstance(answer, UnusableOffer) for answer in answers), answers
