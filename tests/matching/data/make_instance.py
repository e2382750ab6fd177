#!/usr/bin/env python3
# ruff: noqa: E501, B905  -- verbatim copy of ../shared/tools/make_instance.py; keep it identical.
"""Write a reproducible synthetic matching instance around Leuven (see ../spec/matching-cli.md).

    python make_instance.py --requests 5000 --volunteers 5000 --seed 1 > instance.json

People live in clusters around Leuven's districts; requests mostly need one skill and
may be done in one to three weekly half-day slots; volunteers offer one to three skills,
three to ten free slots, a travel radius of 1 to 10 km and a capacity of 1 to 3.
Standard library only, so it runs anywhere.
"""

import argparse
import json
import math
import random
import sys

# District centres (lat, lon) and their share of the population.
DISTRICTS = [
    ((50.8798, 4.7005), 0.30),  # Leuven centre
    ((50.8630, 4.6970), 0.20),  # Heverlee
    ((50.8880, 4.7330), 0.20),  # Kessel-Lo
    ((50.9050, 4.6930), 0.12),  # Wilsele
    ((50.9260, 4.6810), 0.06),  # Wijgmaal
    ((50.8500, 4.6600), 0.12),  # Oud-Heverlee / outskirts
]
SKILLS = [
    "shopping",
    "pharmacy",
    "driving",
    "companionship",
    "dog_walking",
    "paperwork",
    "diy",
    "digital_help",
]
SKILL_WEIGHTS = [30, 15, 12, 15, 8, 8, 6, 6]
SLOTS = 21  # 7 days x morning / afternoon / evening


def place(rng: random.Random, spread_km: float) -> tuple[float, float]:
    centres, weights = zip(*DISTRICTS)
    lat0, lon0 = rng.choices(centres, weights)[0]
    d_lat = rng.gauss(0, spread_km) / 111.2
    d_lon = rng.gauss(0, spread_km) / (111.2 * math.cos(math.radians(lat0)))
    return round(lat0 + d_lat, 6), round(lon0 + d_lon, 6)


def make(n_requests: int, n_volunteers: int, seed: int, spread_km: float) -> dict:
    rng = random.Random(seed)
    requests = []
    for i in range(n_requests):
        lat, lon = place(rng, spread_km)
        n_skills = 1 if rng.random() < 0.9 else 2
        skills = sorted(set(rng.choices(SKILLS, SKILL_WEIGHTS, k=n_skills)))
        slots = [] if rng.random() < 0.1 else sorted(rng.sample(range(SLOTS), rng.randint(1, 3)))
        priority = rng.choices([1, 2, 3], [70, 20, 10])[0]
        requests.append(
            {"id": f"r{i}", "lat": lat, "lon": lon, "skills": skills, "slots": slots, "priority": priority}
        )
    volunteers = []
    for i in range(n_volunteers):
        lat, lon = place(rng, spread_km)
        skills = sorted(set(rng.choices(SKILLS, SKILL_WEIGHTS, k=rng.randint(1, 3))))
        slots = sorted(rng.sample(range(SLOTS), rng.randint(3, 10)))
        max_km = round(rng.choice([1.0, 2.0, 3.0, 5.0, 10.0]) * rng.uniform(0.8, 1.2), 2)
        capacity = rng.choices([1, 2, 3], [60, 30, 10])[0]
        volunteers.append(
            {
                "id": f"v{i}",
                "lat": lat,
                "lon": lon,
                "skills": skills,
                "slots": slots,
                "max_km": max_km,
                "capacity": capacity,
            }
        )
    n_exclude = n_requests // 50
    exclude = (
        [[f"r{rng.randrange(n_requests)}", f"v{rng.randrange(n_volunteers)}"] for _ in range(n_exclude)]
        if n_volunteers
        else []
    )
    return {"requests": requests, "volunteers": volunteers, "exclude": exclude}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--volunteers", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--spread-km", type=float, default=2.5, help="standard deviation around a district centre"
    )
    args = parser.parse_args()
    json.dump(
        make(args.requests, args.volunteers, args.seed, args.spread_km), sys.stdout, separators=(",", ":")
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
