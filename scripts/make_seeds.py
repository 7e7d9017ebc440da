"""Generate the sample article records shipped in ``seeds/``.

The output is fully determined by this file: a fixed ``random.Random`` seed, no
clock and no network, so running it twice gives byte-identical files. Every
record carries ``"sample": true`` and links only to example domains; the names,
figures and quotes are fictional. The real record ``seeds/000_*.json`` is never
touched.

Layout (file order follows ``updated_at`` order)::

    010_<slug>.json ... 017_<slug>.json   one record per file
    020_archive.json                       a JSON array of records
    030_wire.jsonl ... 050_wire.jsonl      one record per line
    090_edits.jsonl                        later edits of earlier records

Usage::

    python scripts/make_seeds.py              # rewrite seeds/
    python scripts/make_seeds.py --out DIR    # write somewhere else
    python scripts/make_seeds.py --check      # exit 1 if seeds/ is out of date
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

__all__ = ["STORIES", "build_files", "main", "write_files"]

RANDOM_SEED = 20260630
SEEDS_DIR = Path(__file__).resolve().parent.parent / "seeds"
NEWS_BASE = "https://news.example.org"
CANONICAL_BASE = "https://example.com"

#: Generated files are named ``0NN_*.json[l]`` with NN from 10 to 99; the real
#: record (``000_*``) and README.md are left alone.
GENERATED_NAME = re.compile(r"0(?:[1-9][0-9])_[A-Za-z0-9._-]+\.jsonl?")

BASE_START = datetime(2026, 6, 8, 6, 0, tzinfo=UTC)
BASE_SPAN_MINUTES = 22 * 24 * 60 + 16 * 60  # up to 2026-06-30 22:00 UTC
EDIT_START = datetime(2026, 7, 1, 7, 0, tzinfo=UTC)

_PLUS_TWO = timezone(timedelta(hours=2))
_MINUS_FOUR = timezone(timedelta(hours=-4))
_TIME_FORMS = 7

SAMPLE_NOTE = {
    "en": "_Sample article generated for Syndicator's demo feeds; "
    "names, figures and quotes are fictional._",
    "de": "_Beispielartikel für die Demo-Feeds von Syndicator; "
    "Namen, Zahlen und Zitate sind erfunden._",
    "fr": "_Article d'exemple généré pour les flux de démonstration de Syndicator ; "
    "noms, chiffres et citations sont fictifs._",
    "es": "_Artículo de ejemplo generado para los feeds de demostración de Syndicator; "
    "nombres, cifras y citas son ficticios._",
}


@dataclass(frozen=True)
class Story:
    """One fictional article: the facts a body is written from."""

    title: str
    summary: str
    lead: str
    facts: tuple[str, ...]
    quote: str
    speaker: str
    topics: tuple[str, ...]
    entities: tuple[str, ...]
    lang: str = "en"
    body: str | None = None
    slug_hint: str | None = None


@dataclass(frozen=True)
class Edit:
    """A later revision of a story: new title, an added section, maybe fewer topics."""

    target: str
    title: str
    heading: str
    text: str
    drop_topics: tuple[str, ...] = ()
    summary: str | None = None
    entities: tuple[str, ...] = ()


def _parse_stories(text: str) -> tuple[Story, ...]:
    """Parse the story blocks of `_STORY_TEXT`."""
    stories: list[Story] = []
    for block in text.strip().split("\n\n"):
        lines = block.splitlines()
        title = lines[0].removeprefix("== ")
        values: list[tuple[str, str]] = []
        for line in lines[1:]:
            if line.startswith(" "):
                key, value = values[-1]
                values[-1] = (key, f"{value} {line.strip()}")
            else:
                key, _, value = line.partition(": ")
                values.append((key, value))
        fields = dict(values)
        stories.append(
            Story(
                title=title,
                summary=fields["summary"],
                lead=fields["lead"],
                facts=tuple(value for key, value in values if key == "fact"),
                quote=fields["quote"],
                speaker=fields["by"],
                topics=tuple(t.strip() for t in fields["topics"].split(",")),
                entities=tuple(e.strip() for e in fields["entities"].split(";")),
            )
        )
    return tuple(stories)


#: The English stories, one block each: "== title", then "key: value" lines;
#: an indented line continues the previous value. ``fact`` repeats.
_STORY_TEXT = """
== Lumen Labs opens its 40-billion-parameter model to researchers
topics: artificial-intelligence, startups
entities: Lumen Labs; Aster-40; Mira Osei; Toronto
summary: Lumen Labs will release the weights of its Aster-40 language model to universities
    under a non-commercial licence. The company says independent audits of bias and safety need
    full access rather than an API.
lead: Lumen Labs, the Toronto-based AI developer, said on Tuesday it would give accredited
    research groups the full weights of **Aster-40**, its largest model, in a bid to let
    outsiders test claims that have so far been taken on trust.
fact: Aster-40 has 40 billion parameters and was trained on 9 trillion tokens
fact: The licence bars commercial use and redistribution of fine-tuned copies
fact: Applications open in July; the first 120 groups get access in August
quote: We cannot ask the public to trust evaluations that nobody outside the building can
    reproduce
by: Mira Osei, Lumen Labs' head of research

== Hospitals trial AI scribes as clinicians push back on paperwork
topics: artificial-intelligence, health
entities: Midlands Health Partnership; Hannah Reyes
summary: Eleven hospitals in the Midlands are testing ambient AI note-takers in outpatient
    clinics. Early results show shorter documentation time, but nurses' unions want stronger
    rules on consent and recording.
lead: A regional health network has fitted consultation rooms in eleven hospitals with
    microphones that feed an AI system drafting clinical notes, the largest such trial so far.
fact: Doctors spent 31% less time on notes in the first six weeks
fact: Patients can decline recording at the start of every appointment
fact: Drafts must be signed off by a clinician before entering the record
quote: The technology gives time back, but only if patients are never surprised by it
by: Dr Hannah Reyes, clinical lead for the trial

== Regulator asks chatbot makers to label synthetic voices in political ads
topics: artificial-intelligence, policy
entities: Sofia Lindqvist
summary: The national media regulator has asked AI companies to watermark and disclose cloned
    voices used in campaign material. The guidance stops short of a ban ahead of autumn
    elections.
lead: Campaigns that use AI-generated voices in adverts will be expected to say so on air, under
    draft guidance published by the media regulator on Monday.
fact: Audio adverts must carry a spoken disclosure in the first five seconds
fact: Voice-cloning providers are asked to embed inaudible watermarks
fact: The consultation runs for eight weeks
quote: Voters are entitled to know whether the voice they hear belongs to a person
by: Sofia Lindqvist, the regulator's chief executive

== Small language models match larger rivals on contract review, study finds
topics: artificial-intelligence, science
entities: Institute for Applied Computation; Daniel Achterberg
summary: A benchmark of 2,400 commercial contracts found that models with under 8 billion
    parameters, fine-tuned on legal text, performed within two points of frontier systems. They
    cost a fraction to run.
lead: Compact, specialised language models can review commercial contracts almost as accurately
    as the largest general-purpose systems, according to a study by researchers at the Institute
    for Applied Computation.
fact: The benchmark covered 2,400 contracts in English and German
fact: Fine-tuned 7B models scored 87.1 against 89.0 for the best large model
fact: Inference cost was about 1/30 per document
quote: Bigger is not automatically better once you know the task
by: Prof. Daniel Achterberg, who led the study

== Open-source coding assistant Tessel passes one million installs
topics: artificial-intelligence, startups
entities: Tessel; Aiko Tanaka
summary: Tessel, a code-completion tool that runs entirely on the developer's machine, has
    passed one million installs six months after launch. Its maintainers plan a paid plan for
    teams.
lead: **Tessel**, the open-source coding assistant that never sends source code off the laptop,
    crossed one million installs this week, its maintainers said.
fact: Tessel runs a 3-billion-parameter model locally on consumer GPUs
fact: About 40% of installs are in companies with strict data rules
fact: A hosted team plan is due in the autumn
quote: Privacy turned out to be the feature people were waiting for
by: Aiko Tanaka, Tessel's lead maintainer

== Corvid Compute signs 1.2 GW power deal for Ohio data-centre campus
topics: ai-infrastructure, energy
entities: Corvid Compute; Raj Malhotra; Columbus; Ohio
summary: Data-centre developer Corvid Compute has agreed to buy 1.2 gigawatts of power for a
    campus near Columbus. The deal combines new solar, a gas plant and grid-scale batteries.
lead: Corvid Compute has signed one of the largest single power agreements for a data-centre
    campus, securing 1.2 gigawatts for a site east of Columbus, Ohio.
fact: The campus is planned to host up to 400,000 accelerators
fact: Power comes from 600 MW of solar, 450 MW of gas and 800 MWh of batteries
fact: The first building is due to go live in 2028
quote: Compute is now limited by electrons, not by chips
by: Raj Malhotra, Corvid Compute's chief executive

== Liquid cooling retrofits double at colocation sites, survey says
topics: ai-infrastructure
entities: Uptrend Research; Lena Fischer
summary: Operators of shared data centres are rapidly refitting halls for liquid cooling as AI
    racks exceed 100 kW. Nearly half plan direct-to-chip cooling by 2027.
lead: The number of colocation facilities retrofitting halls for liquid cooling doubled over the
    past year, according to an industry survey of 310 operators.
fact: Average AI rack density reached 68 kW, up from 24 kW in 2024
fact: 48% of operators plan direct-to-chip cooling by 2027
fact: Retrofits cost between $2 million and $9 million per megawatt
quote: Air simply cannot move that much heat out of a rack any more
by: Lena Fischer, analyst at Uptrend Research

== Nordic grid operator caps new data-centre connections until 2028
topics: ai-infrastructure, energy, policy
entities: Erik Solberg; Nordic Transmission
summary: A Nordic transmission operator has paused approvals for large new data-centre loads in
    two regions. It says demand requests now exceed planned capacity by a factor of three.
lead: Large data centres will have to wait for grid connections in two northern regions after
    the transmission operator said requests had outstripped what the network can deliver.
fact: Connection requests total 14 GW against 4.5 GW of planned capacity
fact: Sites under 20 MW and projects with on-site generation are exempt
fact: The cap will be reviewed every six months
quote: We would rather say no now than promise power we cannot deliver
by: Erik Solberg, head of system planning

== Cloud provider Strato launches hourly GPU capacity reservations
topics: ai-infrastructure, startups
entities: Strato Cloud; Priya Nair
summary: Strato Cloud will let customers reserve blocks of GPUs by the hour, weeks in advance.
    The move targets start-ups that need short, guaranteed bursts for training runs.
lead: Strato Cloud has introduced reservations for GPU clusters that can be booked by the hour,
    aiming at young AI companies priced out of year-long commitments.
fact: Reservations start at 8 GPUs and go up to 2,048
fact: Bookings can be made up to 12 weeks ahead
fact: Unused reserved hours can be resold on a marketplace
quote: Nobody should need a three-year contract to run a two-week experiment
by: Priya Nair, Strato's vice-president of product

== Water use of AI data centres draws scrutiny in drought-hit Arizona town
topics: ai-infrastructure, climate
entities: Arizona; Maria Delgado
summary: Residents of a small Arizona town have asked officials to publish the water use of
    three planned data centres. Developers say closed-loop cooling will keep consumption low.
lead: A town council in central Arizona faced a packed hearing this week as residents demanded
    disclosure of how much water three proposed data centres would draw.
fact: The three sites would add 290 MW of IT load
fact: Developers estimate 38 million litres a year with closed-loop cooling
fact: The council will vote on a disclosure ordinance in July
quote: We have wells going dry; we need numbers, not adjectives
by: Maria Delgado, a local farmer

== Kestrel Semiconductor tapes out 3 nm inference chip
topics: ai-chips, artificial-intelligence
entities: Kestrel Semiconductor; Merlin-2; Tomasz Wiśniewski
summary: Kestrel Semiconductor has completed the design of its second-generation inference
    accelerator on a 3-nanometre process. Samples are due to customers by the end of the year.
lead: Chip designer **Kestrel Semiconductor** said it had taped out *Merlin-2*, an inference
    accelerator it claims will cut the cost of serving large models by half.
fact: Merlin-2 pairs 192 GB of HBM with 2,400 TOPS of 8-bit compute
fact: The chip is built on a 3 nm process
fact: Customer samples are planned for December
quote: Inference is where the money will be spent for the next decade
by: Tomasz Wiśniewski, Kestrel's co-founder

== Export rules tightened for high-bandwidth memory modules
topics: ai-chips, policy
entities: Claire Dubois; Marlow & Finch
summary: New export controls require licences for shipments of advanced high-bandwidth memory to
    a list of destinations. Memory makers warn of disruption to existing contracts.
lead: Shipments of the most advanced high-bandwidth memory will need export licences from next
    month, under rules published by the trade ministry on Friday.
fact: The rules cover HBM stacks above 1.2 TB/s of bandwidth
fact: Existing contracts get a 90-day grace period
fact: Licence decisions are promised within 30 days
quote: Memory has become as strategic as the processors it feeds
by: Claire Dubois, a trade lawyer at Marlow & Finch

== Photonic interconnect start-up Prism Optics raises $180 million
topics: ai-chips, startups
entities: Prism Optics; Halcyon Ventures; Ana Costa
summary: Prism Optics, which builds optical links between AI chips, has raised $180 million in a
    Series C round. It plans to start volume production next year.
lead: **Prism Optics**, a start-up replacing copper links between accelerators with light, has
    closed a $180 million funding round led by Halcyon Ventures.
fact: The round values the company at $1.4 billion
fact: Its links move 6.4 Tb/s per chip at a third of the power of copper
fact: Volume production is planned for mid-2027
quote: The bottleneck in AI clusters has moved from the chip to the wire
by: Ana Costa, Prism Optics' chief executive

== Chip packaging bottleneck eases as new plant opens in Penang
topics: ai-chips, ai-infrastructure
entities: Penang; Malaysia; Lim Wei Jie
summary: A new advanced-packaging plant in Penang has started production, adding capacity for
    the chiplet assembly that AI accelerators depend on. Lead times have already begun to fall.
lead: The shortage of advanced chip packaging that has held back deliveries of AI accelerators
    is starting to ease, as a new plant in Penang, Malaysia, began production.
fact: The plant adds 20,000 wafers a month of 2.5D packaging capacity
fact: Lead times for packaged accelerators fell from 40 to 28 weeks
fact: About 3,000 people will work at the site at full output
quote: Packaging was the quiet constraint on the whole industry
by: Lim Wei Jie, operations director at the plant

== RISC-V accelerator group publishes open matrix extension
topics: ai-chips, science
entities: RISC-V; Felix Brandt
summary: An industry group has published a draft open standard for matrix instructions on RISC-V
    processors. Backers say it will let AI chips share one software stack.
lead: A consortium of chip designers and universities has published a draft specification for
    matrix-multiply instructions on RISC-V, the open instruction set.
fact: The draft defines tile registers up to 4 KB
fact: Eighteen companies and nine universities contributed
fact: Public comments close at the end of August
quote: Open hardware needs an open answer to the matrix engine
by: Dr Felix Brandt, chair of the working group

== June sea-surface temperatures set third consecutive monthly record
topics: climate, science
entities: Ocean Climate Observatory; Amara Nwosu; El Niño
summary: Global average sea-surface temperatures in June were the highest on record for the
    month, the third record in a row. Scientists point to a developing El Niño on top of
    long-term warming.
lead: The world's oceans were warmer in June than in any June since measurements began,
    according to preliminary data from the Ocean Climate Observatory.
fact: The global average was 21.1 °C, 0.2 °C above the previous June record
fact: Marine heatwaves covered 38% of the ocean surface
fact: El Niño conditions are forecast to strengthen through the autumn
quote: Each record on its own is a data point; three in a row is a pattern
by: Dr Amara Nwosu, oceanographer at the observatory

== Coastal town approves managed retreat plan for 400 homes
topics: climate, policy
entities: Jan Verbeek
summary: A coastal town has voted to buy out and relocate 400 households from its most
    flood-prone streets over the next 15 years. It is one of the largest planned retreats in
    Europe.
lead: Councillors voted 19 to 6 on Wednesday to begin moving households away from the
    lowest-lying neighbourhoods of the town, rather than raise its sea walls again.
fact: 400 homes will be bought at pre-flood market value
fact: A new district on higher ground is planned for 1,100 residents
fact: The first purchases start in 2027
quote: We can keep paying for walls, or we can pay once to move people out of harm's way
by: Mayor Jan Verbeek

== Heatwave pushes European power prices to summer high
topics: climate, energy
entities: Voltmark; Julia Romano
summary: Wholesale electricity prices in several European markets hit their highest level of the
    summer as a heatwave lifted air-conditioning demand and cut output from river-cooled plants.
lead: Day-ahead power prices jumped across central Europe on Thursday as temperatures above 38
    °C drove up demand and forced some thermal plants to curb output.
fact: Peak-hour prices reached €412 per megawatt-hour
fact: Solar output set a new daily record
fact: Two plants reduced output because of warm river water
quote: Solar is carrying the middle of the day; the evening is where it hurts
by: Julia Romano, analyst at Voltmark

== Carbon removal buyers' club signs first direct-air-capture offtake
topics: climate, startups
entities: Open Removal Alliance; Aerolith; Nadia Haddad
summary: A group of companies pooling demand for carbon removal has signed its first long-term
    contract with a direct-air-capture developer, at $390 a tonne.
lead: The Open Removal Alliance, a buyers' club of 14 companies, has agreed to purchase 250,000
    tonnes of carbon removal from **Aerolith**, a direct-air-capture developer.
fact: Deliveries run from 2028 to 2034
fact: The agreed price is $390 a tonne, falling to $310 by the final year
fact: Removals will be verified by an independent registry
quote: Long contracts are what turn a pilot plant into an industry
by: Nadia Haddad, the alliance's director

== Glacier survey finds Alpine ice loss accelerating
topics: climate, science
entities: Alpine Cryosphere Network; Luca Bernasconi
summary: A survey of 180 Alpine glaciers found they lost 4% of their volume in the past two
    years, the fastest rate recorded. Researchers expect small glaciers to vanish within
    decades.
lead: Alpine glaciers are shrinking faster than at any time since systematic monitoring began,
    according to a survey by the Alpine Cryosphere Network.
fact: 180 glaciers were measured by drone and satellite
fact: Volume loss averaged 2% a year over two years
fact: Eleven small glaciers have disappeared since 2020
quote: We are documenting the end of many of these glaciers
by: Dr Luca Bernasconi, the survey's coordinator

== Insurers withdraw wildfire cover from three more counties
topics: climate, policy
entities: Rebecca Hollis
summary: Two large home insurers will stop writing new wildfire policies in three more counties.
    State officials are considering a public backstop.
lead: Homeowners in three more counties will struggle to find wildfire insurance after two large
    insurers said they would stop selling new policies there.
fact: About 62,000 homes are in the affected areas
fact: Existing policies will be renewed for one more year
fact: A state-backed pool is being discussed
quote: The risk models have moved faster than the building codes
by: Rebecca Hollis, the state's insurance commissioner

== Offshore wind auction clears at record-low strike price
topics: energy, climate
entities: Henrik Dahl
summary: An offshore wind auction awarded 3.8 gigawatts of contracts at the lowest strike price
    yet. Developers credited larger turbines and cheaper financing.
lead: Developers won contracts for 3.8 gigawatts of offshore wind at an average strike price of
    €54 per megawatt-hour, the lowest in the country's auctions so far.
fact: Four projects won contracts, all more than 40 km from shore
fact: Turbines of 18 MW will be used at three of the sites
fact: First power is expected in 2030
quote: Bigger machines and calmer rates have done what subsidies used to
by: Henrik Dahl, energy economist

== Sodium-ion home batteries go on sale
topics: energy, startups
entities: Natrion Home; Jonas Keller
summary: A start-up has begun selling home batteries that use sodium instead of lithium. They
    are heavier but cheaper and, the company says, safer in hot lofts and garages.
lead: **Natrion Home**, a battery start-up, has started selling a 10 kWh home storage unit based
    on sodium-ion cells, the first such product for the mass market.
fact: The unit stores 10 kWh and weighs 140 kg
fact: It costs about 20% less than comparable lithium systems
fact: Cells are rated for 6,000 cycles
quote: Sodium is everywhere, and that changes the economics of storage
by: Jonas Keller, Natrion's founder

== Grid-scale batteries overtake gas peakers in evening peak
topics: energy
entities: Texas; Carlos Mendez
summary: Batteries supplied more power than gas peaking plants during the evening peak for the
    first time on the Texas grid this week. Storage capacity has tripled in two years.
lead: Battery storage delivered more electricity than gas peaking plants during Tuesday's
    evening peak on the Texas grid, a first that underlines how quickly storage is being built.
fact: Batteries supplied 11.2 GW at 8:30 p.m. local time
fact: Installed storage capacity has tripled since 2024
fact: Evening price spikes were 40% lower than last summer
quote: The sunset ramp used to belong to gas; it now belongs to storage
by: Carlos Mendez, grid analyst

== Small modular reactor design clears first regulatory review
topics: energy, policy, science
entities: Vela-300; Ingrid Moe
summary: A 300-megawatt small modular reactor has passed the first stage of a generic design
    assessment. Its developer hopes to start building a first unit by 2029.
lead: The nuclear regulator has completed the first step of its review of the **Vela-300** small
    modular reactor, finding no fundamental safety shortfalls.
fact: Vela-300 is a 300 MW pressurised water reactor
fact: The full assessment is expected to take three more years
fact: Factory-built modules are meant to cut construction time to four years
quote: Passing the first gate matters, but the hard part is the detail
by: Dr Ingrid Moe, former regulator

== Heat pump sales rebound after subsidy reform
topics: energy, climate, policy
entities: Paul Whitaker
summary: Heat pump installations rose 36% in the second quarter after the government simplified
    grants. Installers warn that skills shortages could limit further growth.
lead: Sales of heat pumps recovered strongly this spring after a reform that paid grants
    directly to installers, according to figures from the industry association.
fact: Installations rose 36% on the same quarter last year
fact: The average grant is now paid within 10 days
fact: The association estimates a shortfall of 12,000 trained installers
quote: Simple money moves markets; complicated money stalls them
by: Paul Whitaker, the association's director

== Geothermal start-up drills its deepest well yet in Nevada
topics: energy, startups, science
entities: Deepwell Energy; Nevada; Sarah Okafor
summary: A geothermal developer has drilled a 4.9-kilometre well in Nevada, using techniques
    borrowed from the oil industry. It aims to supply round-the-clock clean power to data
    centres.
lead: **Deepwell Energy** said it had reached a depth of 4.9 kilometres at its Nevada site,
    where rock temperatures exceed 240 °C.
fact: The well took 21 days to drill, half the time of its first
fact: The site is designed for 115 MW of output
fact: A power purchase agreement with a data-centre operator is under negotiation
quote: Every well is cheaper and faster than the last one
by: Sarah Okafor, Deepwell's chief technology officer

== Reusable upper stage completes first recovery at sea
topics: space
entities: Orbion Launch; Kite; Yusuf Demir
summary: A launch company recovered the upper stage of its rocket for the first time, catching
    it with a net-equipped ship after re-entry. Reusing both stages could cut launch costs
    sharply.
lead: **Orbion Launch** said its *Kite* upper stage survived re-entry and was recovered by a
    ship 600 kilometres off the coast, a first for the company.
fact: The stage deployed a parafoil at 9 km altitude
fact: It carried a 2.3-tonne satellite to orbit before returning
fact: The company plans to refly the stage within six months
quote: Recovering the upper stage is the last big step to full reuse
by: Yusuf Demir, Orbion's chief engineer

== Lunar lander Selene-2 sets down near Shackleton crater
topics: space, science
entities: Selene-2; Shackleton crater; Kenji Mori
summary: The Selene-2 lander touched down about 8 kilometres from the rim of Shackleton crater
    near the Moon's south pole. It will search for water ice in permanently shadowed soil.
lead: The robotic lander **Selene-2** landed safely near the lunar south pole on Saturday,
    sending back its first images within minutes of touchdown.
fact: The landing site is 8 km from Shackleton's rim
fact: The lander carries a drill that can reach 1 metre
fact: Its mission is planned to last one lunar day, about 14 Earth days
quote: Every gram of water we find there changes what future crews can do
by: Dr Kenji Mori, mission scientist

== Satellite operators agree to share debris-avoidance data
topics: space, policy
entities: Isabel Ferreira
summary: Eleven satellite operators have agreed to share orbit data and manoeuvre plans through
    a common service. The aim is to avoid collisions in crowded low Earth orbit.
lead: Operators of more than 9,000 satellites have signed up to a shared system for exchanging
    orbital data and planned manoeuvres, a step regulators have long encouraged.
fact: Eleven operators signed the agreement
fact: Manoeuvre plans must be shared at least 12 hours in advance
fact: The service will publish anonymised conjunction statistics
quote: Space is a commons, and commons need rules everyone can see
by: Isabel Ferreira, space-policy adviser

== Earth-observation start-up Veridian maps methane plumes from orbit
topics: space, climate, startups
entities: Veridian; Olivia Grant
summary: Veridian, a satellite start-up, has released its first maps of methane leaks from oil
    and gas sites. It found 140 large plumes in a month of observations.
lead: **Veridian** has published the first results from its methane-sensing satellites,
    identifying 140 large plumes at oil and gas facilities in a single month.
fact: Its satellites detect plumes as small as 100 kg of methane per hour
fact: Data will be free for regulators and researchers
fact: A third satellite launches in September
quote: Leaks that nobody sees are leaks nobody fixes
by: Olivia Grant, Veridian's chief executive

== Space telescope spots water vapour on temperate sub-Neptune
topics: space, science
entities: TOI-4421 c; Elena Petrova
summary: Astronomers have detected water vapour in the atmosphere of a sub-Neptune planet
    orbiting in its star's temperate zone. The planet is 120 light-years away.
lead: A team of astronomers has found strong signs of water vapour in the atmosphere of
    *TOI-4421 c*, a planet about twice the size of Earth.
fact: The planet orbits a red dwarf every 33 days
fact: Water was detected at more than five sigma
fact: Follow-up observations will look for methane and carbon dioxide
quote: Temperate worlds with atmospheres we can read are rare and precious
by: Dr Elena Petrova, lead author

== European launcher resumes flights after 14-month pause
topics: space
entities: Marc Lefèvre
summary: A European rocket returned to flight with a successful launch of two weather
    satellites, ending a 14-month grounding after a second-stage failure.
lead: Europe's medium-lift rocket flew again on Thursday evening, placing two weather satellites
    into orbit and ending a grounding that had left several missions waiting.
fact: The redesigned second-stage valve performed as planned
fact: Nine more launches are booked for the next 18 months
fact: The grounding delayed four institutional missions
quote: Today we got our access to space back
by: Marc Lefèvre, launch director

== Climate-tech seed funding falls 18% in first half
topics: startups, climate
entities: Greenbase; Meridian Climate; Tom Ashworth
summary: Seed investment in climate technology start-ups fell 18% in the first half of the year.
    Investors are concentrating on later-stage companies with revenue.
lead: Early-stage climate start-ups are finding it harder to raise money, with seed funding down
    18% in the first six months of the year, according to data from Greenbase.
fact: Seed rounds raised $1.9 billion across 610 deals
fact: Median seed round size was flat at $3.1 million
fact: Later-stage funding rose 9%
quote: Investors want proof that the hardware works before they write cheques
by: Tom Ashworth, partner at Meridian Climate

== Payroll start-up Tandem lays off a fifth of staff
topics: startups
entities: Tandem; Leah Goldberg
summary: Tandem, a payroll software start-up, is cutting 22% of its workforce after growth
    slowed. The company says it has enough cash to reach profitability.
lead: **Tandem** told employees on Monday that it would lay off 140 people, about a fifth of its
    staff, as it refocuses on its largest customers.
fact: 140 roles are affected, mostly in sales and marketing
fact: Departing staff get four months' pay
fact: The company raised $90 million last year
quote: We hired for a market that grew more slowly than we planned
by: Leah Goldberg, Tandem's co-founder

== Berlin accelerator launches fund for deep-tech founders
topics: startups, science
entities: Spree Deep Tech; Berlin; Katrin Vogel
summary: A Berlin accelerator has launched a €60 million fund for scientists turning research
    into companies. Founders will get lab space and up to €1.5 million each.
lead: The **Spree Deep Tech** accelerator has raised a €60 million fund to back researchers who
    leave universities to start companies.
fact: Up to 40 companies will be funded over four years
fact: Each team can receive up to €1.5 million
fact: Lab space is provided on a former industrial site
quote: Great science too often dies between the paper and the product
by: Dr Katrin Vogel, managing partner

== Robotics start-up Ferrous raises Series B to automate scrap sorting
topics: startups, artificial-intelligence
entities: Ferrous Robotics; Diego Alvarez
summary: Ferrous, which builds AI-guided robots that sort scrap metal, has raised $65 million.
    Steelmakers want cleaner scrap for electric arc furnaces.
lead: **Ferrous Robotics** has raised $65 million to expand its fleet of sorting robots that use
    cameras and spectroscopy to separate scrap metal by alloy.
fact: Its robots sort up to 4 tonnes of scrap per hour
fact: Copper contamination falls below 0.1% after sorting
fact: The company plans 50 installations by 2027
quote: Green steel starts with clean scrap
by: Diego Alvarez, Ferrous' chief executive

== Founders turn to revenue-based financing as venture rounds shrink
topics: startups
entities: Flowline; Grace Mbeki
summary: More software start-ups are borrowing against future revenue instead of selling equity.
    Lenders say volumes doubled in a year.
lead: Revenue-based financing, in which start-ups repay lenders with a share of monthly sales,
    is growing fast as venture funding becomes harder to get.
fact: Lending volumes doubled year on year
fact: Typical repayment caps are 1.3 to 1.6 times the amount borrowed
fact: Most borrowers have annual revenue above $1 million
quote: Founders are rediscovering that not every dollar has to cost equity
by: Grace Mbeki, founder of lender Flowline

== Lawmakers agree on rules for AI in hiring
topics: policy, artificial-intelligence
entities: Anna Kowalska
summary: Negotiators have agreed on rules requiring employers to tell candidates when AI screens
    their applications, and to offer a human review on request.
lead: Employers that use automated tools to screen job applicants will have to disclose it and
    offer a human review, under a compromise reached late on Wednesday.
fact: Candidates must be told before an automated assessment
fact: Companies must keep audit logs for three years
fact: Fines can reach 4% of annual turnover
quote: A rejection by an algorithm should never be the last word
by: Anna Kowalska, the bill's rapporteur

== Parliament passes right-to-repair bill covering phones and laptops
topics: policy
entities: Oliver Grant
summary: Manufacturers will have to sell spare parts and repair manuals for phones and laptops
    for seven years. The law takes effect in 2028.
lead: Parliament has passed a right-to-repair law that obliges makers of phones, tablets and
    laptops to supply parts, tools and manuals to independent repairers.
fact: Spare parts must be available for seven years after a model's launch
fact: Software may not block third-party replacement parts
fact: The law applies from January 2028
quote: If you bought it, you should be allowed to fix it
by: Oliver Grant, the bill's sponsor

== City council bans facial recognition in public housing
topics: policy, security
entities: Amina Yusuf
summary: A city council has banned the use of facial recognition cameras in public housing
    estates after residents objected to a pilot scheme.
lead: Councillors voted unanimously to ban facial recognition in the city's public housing,
    ending a pilot that had installed cameras at the entrances of six blocks.
fact: The pilot covered six blocks and 1,400 residents
fact: Existing images must be deleted within 30 days
fact: Ordinary CCTV without biometric matching remains allowed
quote: People should not have to be scanned to get into their own homes
by: Councillor Amina Yusuf

== Competition watchdog opens probe into cloud egress fees
topics: policy, ai-infrastructure
entities: Michael Osei
summary: The competition authority is investigating whether fees for moving data out of cloud
    platforms lock customers in. Large providers have 30 days to respond.
lead: The competition authority has opened a formal investigation into the fees cloud providers
    charge customers to move data to rivals.
fact: Egress fees can reach $90 per terabyte
fact: Three large providers received information requests
fact: The probe will also look at software licensing terms
quote: Customers should be able to leave as easily as they arrived
by: Michael Osei, the authority's chief economist

== Consultation opens on mandatory breach reporting for small firms
topics: policy, security
entities: Hugo Marsh
summary: The government proposes that companies with as few as 20 employees report serious cyber
    incidents within 72 hours. Business groups warn of red tape.
lead: Small businesses may soon have to report serious cyber attacks to a national agency, under
    proposals published for consultation on Tuesday.
fact: Firms with 20 or more staff would be covered
fact: Serious incidents would be reported within 72 hours
fact: A free reporting portal and helpline are planned
quote: We cannot defend against attacks we never hear about
by: Hugo Marsh, minister for digital security

== Researchers grow functional liver tissue on 3D-printed scaffolds
topics: science, health
entities: Sofia Marquez
summary: Scientists have grown liver tissue that performs key metabolic functions for four weeks
    in the lab. The work could reduce reliance on animal testing for drugs.
lead: Bioengineers have grown centimetre-scale liver tissue on 3D-printed scaffolds that stayed
    functional for a month, longer than earlier attempts.
fact: Tissue produced albumin and processed drugs for 28 days
fact: Scaffolds are printed from a plant-derived gel
fact: Pharmaceutical partners will test the tissue in toxicity screens
quote: For the first time the tissue behaves like a liver, not just looks like one
by: Dr Sofia Marquez, lead author

== Quantum error-correction milestone reached with 48 logical qubits
topics: science
entities: Arjun Mehta
summary: A research team has run algorithms on 48 error-corrected logical qubits, with error
    rates falling as more physical qubits were added.
lead: Physicists reported that they had operated 48 logical qubits with error rates below those
    of the physical qubits they were built from.
fact: The processor uses 1,200 neutral-atom qubits
fact: Logical error rates fell by half with each step up in code size
fact: The team ran a 20-step chemistry simulation
quote: Below threshold, more qubits finally means fewer errors
by: Prof. Arjun Mehta

== Ancient DNA reveals early farming migration route
topics: science
entities: Maja Horvat; Adriatic
summary: Genomes from 92 individuals buried 8,000 years ago show that early farmers reached
    central Europe by a coastal route rather than overland.
lead: An analysis of ancient DNA suggests that some of Europe's first farmers travelled along
    the Adriatic coast before moving inland.
fact: 92 genomes were sequenced from 14 sites
fact: The oldest samples date to about 6200 BC
fact: Local hunter-gatherer ancestry rose over five centuries
quote: The genetic trail follows the coast, not the rivers
by: Dr Maja Horvat, geneticist

== New antibiotic class kills drug-resistant bacteria in mice
topics: science, health
entities: Samuel Adeyemi
summary: A molecule discovered with the help of machine learning cleared infections by
    drug-resistant bacteria in mice. Human trials are at least two years away.
lead: Researchers have identified a new class of antibiotic that attacks a bacterial membrane
    protein no existing drug targets.
fact: The compound was active against 41 resistant strains
fact: No resistance emerged over 30 days of exposure
fact: Toxicity studies are under way
quote: A new mechanism is the best defence against old resistance
by: Dr Samuel Adeyemi, microbiologist

== Citizen scientists classify a million galaxy images in a week
topics: science, space
entities: Chloe Martin
summary: Volunteers on an online platform classified one million galaxy images in seven days,
    helping train a model for an upcoming sky survey.
lead: More than 60,000 volunteers took part in a week-long push to classify galaxies in images
    from a new telescope, beating the organisers' target.
fact: One million images were classified in seven days
fact: Each image was checked by at least five people
fact: The labels will train a model for the full survey
quote: People still spot oddities that machines walk straight past
by: Dr Chloe Martin, project lead

== Ransomware attack hits regional hospital network, diverting ambulances
topics: security, health
entities: Peter Lang
summary: A ransomware attack has disrupted IT systems across five hospitals. Ambulances were
    diverted for 36 hours while staff switched to paper records.
lead: Five hospitals in a regional network diverted ambulances and postponed planned operations
    after a ransomware attack encrypted patient administration systems.
fact: Ambulance diversions lasted 36 hours
fact: About 300 planned procedures were postponed
fact: Backups were intact and restoration has begun
quote: Patient safety came first; paper works, slowly
by: Dr Peter Lang, the network's medical director

== Critical flaw in popular VPN appliance exploited in the wild
topics: security
entities: Gatekeep; Nora Eriksen
summary: Attackers are exploiting an authentication bypass in a widely used VPN appliance. No
    patch is available yet; the vendor recommends disabling the web portal.
lead: Security researchers have warned that a critical flaw in **Gatekeep** VPN appliances is
    being used to break into corporate networks.
fact: The flaw allows login without credentials via the web portal
fact: About 18,000 devices are exposed to the internet
fact: The vendor recommends disabling the portal until a fix ships
quote: Anyone running these boxes should assume they are already compromised
by: Nora Eriksen, incident responder

== Password managers add passkey export under new open standard
topics: security
entities: Jamal Reed
summary: Several password managers now let users move passkeys between apps using a new open
    exchange format. Until now, passkeys were tied to one provider.
lead: Users can now carry their passkeys from one password manager to another, as the first apps
    adopted a shared export format.
fact: Export files are encrypted end to end
fact: Five password managers support the format at launch
fact: Browser vendors plan support later this year
quote: A credential you cannot take with you is a lock-in, not a key
by: Jamal Reed, security engineer

== Phishing kits now clone login pages in real time, researchers warn
topics: security, artificial-intelligence
entities: Elif Yilmaz
summary: New phishing kits use AI to copy a victim's login page on the fly and relay one-time
    codes, defeating many forms of two-factor authentication.
lead: Criminal phishing kits have started generating pixel-perfect copies of corporate login
    pages in real time, researchers at a security firm said.
fact: The kits relay one-time codes within seconds
fact: Phishing-resistant keys and passkeys were not affected
fact: Kits are rented for about $300 a month
quote: Codes you type can be stolen; keys you tap cannot
by: Elif Yilmaz, threat researcher

== Water utility discloses intrusion in operational network
topics: security, policy
entities: Robert Kim
summary: A regional water utility says attackers gained access to systems that monitor treatment
    plants. Water quality was not affected.
lead: A water utility serving 600,000 people has disclosed that intruders reached part of the
    network used to monitor its treatment plants.
fact: Attackers had access for about nine days
fact: Control systems were isolated and operated manually
fact: Water quality stayed within limits throughout
quote: The safety systems did what they were designed to do
by: Robert Kim, the utility's operations chief

== Wearable study links sleep regularity with lower blood pressure
topics: health, science
entities: Laura Chen
summary: People who went to bed at consistent times had lower blood pressure than irregular
    sleepers, even with the same total sleep, a study of 48,000 wearable users found.
lead: Regular bedtimes may matter as much as hours of sleep for heart health, according to a
    study that analysed data from 48,000 wearable devices.
fact: Participants were tracked for an average of nine months
fact: The most regular sleepers had 4 mmHg lower systolic pressure
fact: The link held after adjusting for total sleep time
quote: When you sleep seems to matter, not only how long
by: Dr Laura Chen, cardiologist

== Mobile clinics cut wait times for diabetes screening
topics: health
entities: Fatima Rahman
summary: Mobile clinics parked at supermarkets screened 12,000 people for diabetes in six
    months, finding 900 previously undiagnosed cases.
lead: A pilot that sent screening vans to supermarket car parks has reached thousands of people
    who had not seen a doctor in years.
fact: 12,000 people were screened in six months
fact: 900 new diabetes cases were found
fact: Average wait for a follow-up fell to nine days
quote: We went to where people already are
by: Fatima Rahman, the programme's manager

== Night trains return between Vienna and Barcelona
topics: transport, climate
entities: Vienna; Barcelona; Eva Steiner
summary: A new sleeper service links Vienna and Barcelona three times a week, the latest
    addition to Europe's revived night-train network.
lead: Passengers boarded the first overnight train from Vienna to Barcelona on Sunday, a 20-hour
    journey that operators hope will win travellers from short-haul flights.
fact: Trains run three times a week in each direction
fact: Fares start at €69 for a seat and €149 for a sleeper berth
fact: Daily service is planned from 2027
quote: Waking up in another country is still the best part of travel
by: Eva Steiner, the operator's chief executive

== Electric ferry enters service on fjord crossing
topics: transport, energy
entities: Ole Haugen
summary: A 120-car electric ferry has entered service on a busy fjord crossing, charging in ten
    minutes at each end. It replaces a diesel vessel.
lead: A battery-powered car ferry began regular service on a fjord crossing on Monday, cutting
    emissions on one of the country's busiest ferry routes.
fact: The ferry carries 120 cars and 390 passengers
fact: It recharges in ten minutes at each terminal
fact: Annual CO₂ savings are estimated at 4,000 tonnes
quote: Passengers notice the silence before anything else
by: Captain Ole Haugen
"""

#: Stories in other languages carry a hand-written body.
_LOCAL_STORIES: tuple[Story, ...] = (
    Story(
        title="Stadtwerke starten Pilotprojekt für bidirektionales Laden",
        summary=(
            "Mehrere Stadtwerke testen, wie Elektroautos Strom zurück ins Netz speisen "
            "können. 200 Haushalte nehmen an dem zweijährigen Versuch teil."
        ),
        lead="",
        facts=(),
        quote="",
        speaker="",
        topics=("energy", "transport"),
        entities=("Stadtwerke Nordheim", "Karin Albrecht"),
        lang="de",
        slug_hint="stadtwerke-pilotprojekt-bidirektionales-laden",
        body=(
            "*Elektroautos als rollende Speicher: Ein Pilotprojekt soll zeigen, ob sich "
            "das Netz mit Fahrzeugbatterien stabilisieren lässt.*\n\n"
            "Mehrere Stadtwerke haben ein Pilotprojekt gestartet, in dem Elektroautos nicht nur "
            "laden, sondern auch **Strom zurück ins Netz** speisen. 200 Haushalte mit eigener "
            "Wallbox nehmen zwei Jahre lang teil.\n\n"
            "## Worum es geht\n\n"
            "Viele Autos stehen mehr als 20 Stunden am Tag. Ihre Batterien könnten in dieser Zeit "
            "Lastspitzen am Abend abfedern und mittags überschüssigen Solarstrom aufnehmen. "
            "Technisch ist das seit Jahren möglich, doch Abrechnung und Netzanschluss sind "
            "kompliziert.\n\n"
            "- Teilnehmende erhalten eine Vergütung pro zurückgespeister Kilowattstunde\n"
            "- Die Batterie wird nie unter 40 Prozent entladen\n"
            "- Die Steuerung erfolgt über eine offene Schnittstelle\n\n"
            "„Wir wollen zeigen, dass die Technik im Alltag funktioniert und sich für die "
            "Menschen lohnt“, sagte Projektleiterin *Karin Albrecht*.\n\n"
            "## Wie es weitergeht\n\n"
            "Erste Ergebnisse sollen im Frühjahr veröffentlicht werden. Hintergründe zum Thema "
            "finden sich in unserem [Überblick zum Netzausbau]"
            "(https://news.example.org/energie/netzausbau-ueberblick). Die Stadtwerke hoffen, "
            "das Angebot danach allen Kundinnen und Kunden mit geeignetem Fahrzeug machen zu "
            "können, sofern die Bundesnetzagentur die Abrechnung vereinfacht.\n\n"
            "Kritiker weisen darauf hin, dass häufiges Entladen die Batterien altern lassen "
            "könnte. Die Projektpartner wollen deshalb den Zustand jeder Batterie "
            "regelmäßig messen und die Daten anonymisiert veröffentlichen."
        ),
    ),
    Story(
        title="Une start-up lyonnaise lève 40 millions d'euros pour ses puces d'IA",
        summary=(
            "Silicium Rhône, qui conçoit des puces d'inférence basse consommation, a bouclé "
            "une levée de fonds de 40 millions d'euros. Elle vise les caméras et capteurs "
            "industriels."
        ),
        lead="",
        facts=(),
        quote="",
        speaker="",
        topics=("ai-chips", "startups"),
        entities=("Silicium Rhône", "Lyon", "Camille Bernard"),
        lang="fr",
        slug_hint="start-up-lyonnaise-leve-40-millions-puces-ia",
        body=(
            "*La jeune pousse conçoit des accélérateurs qui consomment moins d'un watt pour "
            "faire tourner des modèles de vision directement dans les capteurs.*\n\n"
            "**Silicium Rhône**, start-up lyonnaise fondée en 2022, annonce une levée de fonds de "
            "40 millions d'euros pour industrialiser sa première puce d'inférence.\n\n"
            "## Une puce pour la périphérie\n\n"
            "Plutôt que de rivaliser avec les grands fabricants sur les centres de données, "
            "l'entreprise cible les caméras industrielles, les drones et les capteurs agricoles, "
            "où chaque milliwatt compte.\n\n"
            "- Consommation inférieure à 1 W en fonctionnement\n"
            "- Gravure en 12 nm chez un fondeur européen\n"
            "- Premiers échantillons livrés à six clients industriels\n\n"
            "« Le calcul doit aller là où sont les données, pas l'inverse », explique "
            "*Camille Bernard*, présidente et cofondatrice.\n\n"
            "## Prochaines étapes\n\n"
            "Les fonds serviront à recruter 60 ingénieurs et à préparer la production en série "
            "prévue pour 2027. Pour le contexte, voir notre [dossier sur les puces "
            "européennes](https://news.example.org/puces/dossier-puces-europeennes). "
            "L'entreprise envisage aussi d'ouvrir un bureau à Munich afin de se rapprocher "
            "des équipementiers automobiles, qui cherchent des solutions de vision embarquée "
            "moins gourmandes en énergie."
        ),
    ),
    Story(
        title="Sevilla instala toldos solares en cien calles para combatir el calor",
        summary=(
            "El ayuntamiento de Sevilla cubrirá cien calles con toldos que integran paneles "
            "solares. La energía alimentará el alumbrado público y fuentes de agua."
        ),
        lead="",
        facts=(),
        quote="",
        speaker="",
        topics=("climate", "energy"),
        entities=("Sevilla", "Lucía Morales"),
        lang="es",
        slug_hint="sevilla-toldos-solares-cien-calles",
        body=(
            "*La ciudad combina sombra y generación eléctrica en un plan que se extenderá "
            "durante tres veranos.*\n\n"
            "El ayuntamiento de **Sevilla** ha comenzado a instalar toldos con paneles solares "
            "integrados en cien calles del centro, una medida pensada para reducir la "
            "temperatura a pie de calle durante las olas de calor.\n\n"
            "## Qué incluye el plan\n\n"
            "Los toldos se despliegan de junio a septiembre y se retiran en invierno para no "
            "restar luz a las viviendas.\n\n"
            "- Reducción estimada de hasta 8 °C en la temperatura del pavimento\n"
            "- 1,2 MW de potencia solar instalada\n"
            "- Energía destinada al alumbrado y a fuentes de agua potable\n\n"
            "«La sombra es una infraestructura pública, como el agua o la luz», afirmó "
            "*Lucía Morales*, concejala de Urbanismo.\n\n"
            "## Próximos pasos\n\n"
            "El consistorio medirá el efecto con sensores y publicará los datos en abierto. "
            "Más información en nuestro [especial sobre ciudades y calor]"
            "(https://news.example.org/clima/ciudades-y-calor). Otras ciudades del sur de "
            "Europa han pedido conocer los resultados antes de lanzar proyectos similares "
            "en sus propios cascos históricos."
        ),
    ),
)

STORIES: tuple[Story, ...] = (*_parse_stories(_STORY_TEXT), *_LOCAL_STORIES)

EDITS: tuple[Edit, ...] = (
    Edit(
        target="corvid-compute-signs-1-2-gw-power-deal-for-ohio-data-centre-campus",
        title="Corvid Compute's 1.2 GW Ohio power deal wins state approval",
        heading="Update: state regulators approve the deal",
        text="Ohio's utility commission approved the power agreement on Wednesday, clearing "
        "the way for construction of the first substation. Corvid Compute said the gas plant "
        "would be built with space for carbon capture and that it would publish hourly "
        "emissions data for the campus.",
    ),
    Edit(
        target="heat-pump-sales-rebound-after-subsidy-reform",
        title="Heat pump sales rebound 36% after grant reform",
        heading="Correction",
        text="An earlier version of this article said grants were paid within five days. "
        "They are paid within ten days on average. This article has also been moved out of "
        "the policy section.",
        drop_topics=("policy",),
    ),
    Edit(
        target="critical-flaw-in-popular-vpn-appliance-exploited-in-the-wild",
        title="Gatekeep ships emergency patch for exploited VPN flaw",
        heading="Update: patch released",
        text="Gatekeep released firmware 9.4.2 on Thursday night, which closes the "
        "authentication bypass. The company urged customers to install it immediately and to "
        "reset all credentials stored on the appliances.",
        summary="Gatekeep has released an emergency patch for an authentication bypass in its "
        "VPN appliances that attackers were already exploiting. Customers are told to patch "
        "and reset credentials.",
    ),
    Edit(
        target="lunar-lander-selene-2-sets-down-near-shackleton-crater",
        title="Selene-2 lander finds signs of water ice near Shackleton crater",
        heading="Update: first drill results",
        text="The lander's first drill sample, taken at 40 centimetres, contained hydrogen "
        "signatures consistent with water ice at about 0.5% by mass, the mission team said. "
        "Further samples are planned before lunar night falls.",
    ),
    Edit(
        target="stadtwerke-pilotprojekt-bidirektionales-laden",
        title="Stadtwerke erweitern Pilotprojekt für bidirektionales Laden auf 500 Haushalte",
        heading="Aktualisierung",
        text="Wegen der hohen Nachfrage wird das Projekt auf 500 Haushalte erweitert. "
        "Anmeldungen sind bis Ende August möglich.",
    ),
    Edit(
        target="critical-flaw-in-popular-vpn-appliance-exploited-in-the-wild",
        title="Gatekeep VPN flaw: patch released, attacks continue on unpatched devices",
        heading="Update: attacks continue",
        text="Two days after the patch, scans show about 7,000 devices still exposed. The "
        "national cyber agency has added the flaw to its list of known exploited "
        "vulnerabilities and ordered public bodies to patch within 48 hours.",
        entities=("National Cyber Agency",),
    ),
)

_BACKGROUND: dict[str, tuple[str, ...]] = {
    "artificial-intelligence": (
        "The announcement comes as companies and regulators argue over how much of an AI "
        "system outsiders should be able to inspect. Most large models are still offered only "
        "through paid interfaces, which makes independent testing slow and expensive.",
        "Adoption of AI tools has moved faster than the rules around them. Surveys suggest a "
        "majority of large organisations now use generative models somewhere in their "
        "business, often without a formal policy on data or accountability.",
    ),
    "ai-infrastructure": (
        "Demand for computing power to train and run AI models has turned data centres into "
        "one of the fastest-growing sources of electricity demand. Operators now compete for "
        "grid connections, land and cooling water as much as for chips.",
        "Building a large AI campus now takes longer to permit and connect than to fit out. "
        "Developers increasingly pair sites with their own generation and storage to avoid "
        "waiting years for transmission upgrades.",
    ),
    "ai-chips": (
        "The market for AI accelerators remains dominated by a handful of suppliers, and "
        "customers are eager for alternatives that lower the cost of running models. Memory "
        "bandwidth and packaging, rather than raw compute, are often the limiting factors.",
        "Governments treat advanced chips as strategic goods, and export rules now shape "
        "where new designs are sold and where they are made.",
    ),
    "climate": (
        "Scientists have warned for years that extremes would become more frequent as the "
        "planet warms. The past two summers have brought record heat on land and at sea, "
        "straining infrastructure that was designed for a cooler climate.",
        "Adaptation is moving up the agenda alongside cutting emissions. Cities and insurers "
        "are being forced to price in risks that were once considered rare.",
    ),
    "energy": (
        "Power systems are changing faster than at any time since electrification. Cheap solar "
        "and batteries are reshaping when electricity is produced and used, while demand from "
        "heat pumps, vehicles and data centres grows.",
        "Grid operators say the bottleneck is no longer generation but connection: queues for "
        "new projects run to several years in many markets.",
    ),
    "space": (
        "Launch costs have fallen sharply over the past decade, and the number of active "
        "satellites has grown more than tenfold. That boom brings opportunities for science "
        "and business, and new risks of congestion in orbit.",
        "Agencies and companies are racing to return to the Moon, with the south pole a prime "
        "target because of the water ice thought to be trapped in its shadowed craters.",
    ),
    "startups": (
        "Venture funding has recovered unevenly since the downturn of 2022. Investors favour "
        "companies with revenue and a clear path to profit, and rounds take longer to close.",
        "Founders are adapting with leaner teams and alternative financing, while the largest "
        "rounds are concentrated in a few sectors such as AI and energy.",
    ),
    "policy": (
        "Lawmakers are trying to keep pace with technologies that move faster than the "
        "legislative calendar. Consultation periods, legal challenges and implementation "
        "deadlines mean rules often arrive years after the products they govern.",
        "Enforcement remains the open question: regulators say they need staff and technical "
        "expertise to match the companies they oversee.",
    ),
    "science": (
        "The result has been published in a peer-reviewed journal and adds to a fast-moving "
        "field in which several groups are chasing similar goals with different methods.",
        "Independent researchers welcomed the findings but cautioned that laboratory results "
        "often take years to translate into practical use.",
    ),
    "security": (
        "Attacks on hospitals, utilities and network appliances have grown in number and "
        "severity. Edge devices such as VPN gateways are a favourite target because they sit "
        "on the internet and are often patched late.",
        "Security agencies urge organisations to adopt phishing-resistant authentication and "
        "to rehearse incident response before they need it.",
    ),
    "health": (
        "Health systems are under pressure from ageing populations and staff shortages, and "
        "are looking to technology and new models of care to stretch limited resources.",
        "Clinicians stress that new tools must be tested in real settings, with attention to "
        "consent, equity and the extra work they can create.",
    ),
    "transport": (
        "Transport is one of the hardest sectors to decarbonise, and electrification of "
        "ferries, buses and short routes is seen as a near-term win.",
        "Rail operators are betting that travellers will trade speed for comfort and lower "
        "emissions on journeys of up to a day.",
    ),
}

_CONTEXT_HEADINGS = ("Why it matters", "The background", "Context", "The bigger picture")
_FACTS_HEADINGS = ("Key facts", "What we know", "By the numbers")
_NEXT_HEADINGS = ("What comes next", "What to watch", "Next steps")
_NEXT_TEXT = (
    "Further details are expected in the coming weeks. For earlier reporting, see our "
    "coverage of [{related}]({link}).",
    "The story is developing and this article may be updated. Read more in [{related}]({link}).",
    "Observers will be watching whether others follow. Related: [{related}]({link}).",
)


def slugify(text: str) -> str:
    """Turn a headline into a lowercase ASCII slug of at most about 80 characters."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())
    slug = ""
    for word in words:
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > 80:
            break
        slug = candidate
    return slug


def _story_slug(story: Story) -> str:
    return story.slug_hint or slugify(story.title)


def _format_time(moment: datetime, form: int) -> str:
    """Render `moment` in one of the timestamp forms SPEC §1 accepts."""
    if form == 0:
        return moment.isoformat(timespec="seconds")
    if form == 1:
        return moment.isoformat(sep=" ", timespec="seconds")
    if form == 2:
        return moment.isoformat(sep=" ", timespec="microseconds")
    if form == 3:
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if form == 4:
        return moment.astimezone(_PLUS_TWO).isoformat(timespec="seconds")
    if form == 5:
        return moment.astimezone(_MINUS_FOUR).isoformat(timespec="microseconds")
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _links(slug: str, section: str) -> tuple[str, str, dict[str, str]]:
    url = f"{NEWS_BASE}/news/{slug}"
    canonical = f"{CANONICAL_BASE}/{section}/{slug}"
    alternates = {
        "html": url,
        "markdown": f"{url}.md",
        "text": f"{url}.txt",
        "jsonld": f"{url}.jsonld",
    }
    return url, canonical, alternates


def _body(story: Story, rng: random.Random, related: tuple[str, str]) -> str:
    """Write a Markdown body from a story's facts."""
    if story.body is not None:
        return f"{story.body}\n\n{SAMPLE_NOTE[story.lang]}"
    primary = story.topics[0]
    if len(story.topics) > 1:
        paragraphs = [rng.choice(_BACKGROUND[primary]), rng.choice(_BACKGROUND[story.topics[1]])]
    else:
        paragraphs = list(_BACKGROUND[primary])
    background = "\n\n".join(paragraphs)
    dek = story.summary.split(". ")[0].rstrip(".")
    related_title, related_slug = related
    next_text = rng.choice(_NEXT_TEXT).format(
        related=related_title, link=f"{NEWS_BASE}/news/{related_slug}"
    )
    bullets = "\n".join(f"- {fact}" for fact in story.facts)
    parts = [
        f"*{dek}.*",
        story.lead,
        f"## {rng.choice(_CONTEXT_HEADINGS)}",
        background,
        f"### {rng.choice(_FACTS_HEADINGS)}",
        bullets,
        f"“{story.quote},” said {story.speaker}.",
        f"## {rng.choice(_NEXT_HEADINGS)}",
        next_text,
        SAMPLE_NOTE[story.lang],
    ]
    return "\n\n".join(parts)


def _record(
    story: Story,
    rng: random.Random,
    published: datetime,
    updated: datetime,
    form: int,
    related: tuple[str, str],
) -> dict[str, Any]:
    slug = _story_slug(story)
    url, canonical, alternates = _links(slug, story.topics[0])
    return {
        "slug": slug,
        "title": story.title,
        "summary": story.summary,
        "body_md": _body(story, rng, related),
        "url": url,
        "canonical_source": canonical,
        "published_at": _format_time(published, form),
        "updated_at": _format_time(updated, form),
        "lang": story.lang,
        "topics": list(story.topics),
        "entities": list(story.entities),
        "alternates": alternates,
        "sample": True,
    }


def _apply_edit(base: dict[str, Any], edit: Edit, updated: datetime, form: int) -> dict[str, Any]:
    record = dict(base)
    note = SAMPLE_NOTE.get(record["lang"], SAMPLE_NOTE["en"])
    body = record["body_md"].removesuffix(note).rstrip()
    record["title"] = edit.title
    record["body_md"] = f"{body}\n\n## {edit.heading}\n\n{edit.text}\n\n{note}"
    record["updated_at"] = _format_time(updated, form)
    if edit.summary is not None:
        record["summary"] = edit.summary
    record["topics"] = [t for t in base["topics"] if t not in edit.drop_topics]
    record["entities"] = [*base["entities"], *edit.entities]
    return record


def build_records() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return (base records sorted by time, edit records sorted by time)."""
    rng = random.Random(RANDOM_SEED)
    stories = list(STORIES)
    rng.shuffle(stories)
    minutes = sorted(rng.sample(range(0, BASE_SPAN_MINUTES, 7), len(stories)))
    base: list[dict[str, Any]] = []
    for index, (story, minute) in enumerate(zip(stories, minutes, strict=True)):
        updated = BASE_START + timedelta(minutes=minute, seconds=rng.randrange(60))
        updated += timedelta(microseconds=rng.randrange(1, 1_000_000))
        if rng.random() < 0.3:
            published = updated
        else:
            published = updated - timedelta(minutes=rng.randrange(5, 360))
        peers = [s for s in stories if s is not story and s.topics[0] == story.topics[0]]
        peer = rng.choice(peers or [s for s in stories if s is not story])
        related = (peer.title, _story_slug(peer))
        base.append(_record(story, rng, published, updated, index % _TIME_FORMS, related))

    latest: dict[str, dict[str, Any]] = {rec["slug"]: rec for rec in base}
    edits: list[dict[str, Any]] = []
    moment = EDIT_START
    for index, edit in enumerate(EDITS):
        moment += timedelta(
            hours=rng.randrange(3, 14), minutes=rng.randrange(60), seconds=rng.randrange(60)
        )
        moment = moment.replace(microsecond=rng.randrange(1, 1_000_000))
        record = _apply_edit(latest[edit.target], edit, moment, (index + 3) % _TIME_FORMS)
        latest[edit.target] = record
        edits.append(record)
    return base, edits


def _line(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False)


def build_files() -> dict[str, str]:
    """Return every generated file name with its exact text."""
    base, edits = build_records()
    files: dict[str, str] = {}
    singles, rest = base[:8], base[8:]
    for index, record in enumerate(singles):
        files[f"{10 + index:03d}_{record['slug']}.json"] = _line(record) + "\n"
    array, rest = rest[:16], rest[16:]
    files["020_archive.json"] = json.dumps(array, ensure_ascii=False, indent=2) + "\n"
    chunk = -(-len(rest) // 3)
    for number, start in zip((30, 40, 50), range(0, len(rest), chunk), strict=True):
        lines = rest[start : start + chunk]
        files[f"{number:03d}_wire.jsonl"] = "".join(_line(r) + "\n" for r in lines)
    files["090_edits.jsonl"] = "".join(_line(r) + "\n" for r in edits)
    return files


def write_files(out: Path, files: dict[str, str]) -> list[str]:
    """Write `files` into `out`, remove stale generated files; return the names changed."""
    out.mkdir(parents=True, exist_ok=True)
    changed: list[str] = []
    for path in sorted(out.iterdir()):
        if GENERATED_NAME.fullmatch(path.name) and path.name not in files:
            path.unlink()
            changed.append(path.name)
    for name, text in files.items():
        target = out / name
        data = text.encode("utf-8")
        if target.exists() and target.read_bytes() == data:
            continue
        target.write_bytes(data)
        changed.append(name)
    return changed


def check_files(out: Path, files: dict[str, str]) -> list[str]:
    """Return the names of generated files that are missing, stale or different in `out`."""
    problems = [
        path.name
        for path in sorted(out.iterdir())
        if GENERATED_NAME.fullmatch(path.name) and path.name not in files
    ]
    for name, text in files.items():
        target = out / name
        if not target.exists() or target.read_bytes() != text.encode("utf-8"):
            problems.append(name)
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=SEEDS_DIR, help="target folder")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the folder differs from the generator"
    )
    args = parser.parse_args(argv)
    files = build_files()
    if args.check:
        problems = check_files(args.out, files)
        for name in problems:
            sys.stderr.write(f"out of date: {args.out / name}\n")
        return 1 if problems else 0
    changed = write_files(args.out, files)
    sys.stdout.write(f"{len(files)} files in {args.out}, {len(changed)} changed\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
