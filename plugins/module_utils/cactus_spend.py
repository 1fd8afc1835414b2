"""What a run has spent so far: its own instances (found by the cluster's security group, as Toil finds
them) and volumes, priced per hour. EC2 gives each instance's type, lifecycle (spot or on demand) and
launch time; it has no end time and forgets terminated instances within about an hour, so an instance
that is gone is counted to the last time a look saw it (last_seen). Prices are given or looked up by the
caller; an instance type without a price is said, never guessed."""

from __future__ import annotations

import datetime

HOURS_PER_MONTH = 730  # EBS prices are per GB-month; AWS bills them per second on a 730-hour month


def _utc(value) -> datetime.datetime:
    if isinstance(value, datetime.datetime):
        moment = value
    else:
        moment = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def lifecycle(instance: dict) -> str:
    """spot or on-demand (EC2's InstanceLifecycle is 'spot' for spot instances, absent otherwise)."""
    return "spot" if instance.get("InstanceLifecycle") == "spot" else "on-demand"


def spend(instances, volumes, prices: dict, now, last_seen: dict | None = None,
          volume_price_gb_month: float | None = None) -> dict:
    """The run's spend at `now`.

    instances: EC2 instances of the cluster (any state); volumes: their EBS volumes (Size in GB, CreateTime);
    prices: {'on-demand': {type: USD/h}, 'spot': {type: USD/h}}; last_seen: {instance id: ISO time} of
    instances a look saw running (an instance no longer running is counted to then, or to now while it
    runs). Returns {total, rate (USD/h of what runs now), instances: [...], unknown: [type (lifecycle)],
    volume_gb, volumes_cost, volumes_unknown}: total leaves out what has no price (listed in unknown).
    """
    now = _utc(now)
    last_seen = last_seen or {}
    rows, unknown, total, rate = [], set(), 0.0, 0.0
    for instance in instances:
        iid = instance.get("InstanceId", "")
        state = (instance.get("State") or {}).get("Name", "")
        running = state in ("pending", "running")
        start = _utc(instance["LaunchTime"])
        end = now if running else (_utc(last_seen[iid]) if iid in last_seen else None)
        hours = max(0.0, (end - start).total_seconds() / 3600) if end else None
        kind, life = instance.get("InstanceType", "?"), lifecycle(instance)
        price = (prices.get(life) or {}).get(kind)
        cost = round(price * hours, 6) if price is not None and hours is not None else None
        if price is None:
            unknown.add(f"{kind} ({life})")
        if cost is not None:
            total += cost
        if running and price is not None:
            rate += price
        rows.append({"id": iid, "type": kind, "lifecycle": life, "state": state, "hours": hours,
                     "price": price, "cost": cost})  # fmt: skip
    gb, volumes_cost = 0, 0.0
    for volume in volumes or []:
        gb += int(volume.get("Size") or 0)
        if volume_price_gb_month:
            hours = max(0.0, (now - _utc(volume["CreateTime"])).total_seconds() / 3600)
            volumes_cost += volume["Size"] * volume_price_gb_month * hours / HOURS_PER_MONTH
            rate += volume["Size"] * volume_price_gb_month / HOURS_PER_MONTH
    total += volumes_cost
    return {"at": now.isoformat(timespec="seconds"), "total": round(total, 4), "rate": round(rate, 4),
            "instances": rows, "unknown": sorted(unknown), "volume_gb": gb,
            "volumes_cost": round(volumes_cost, 4),
            "volumes_unknown": bool(gb and not volume_price_gb_month)}  # fmt: skip


def spend_text(result: dict) -> str:
    """'$1.23 so far, $0.45/hour now' plus what has no price."""
    text = f"${result['total']:.2f} so far, ${result['rate']:.2f}/hour now"
    missing = list(result["unknown"])
    if result.get("volumes_unknown"):
        missing.append(f"{result['volume_gb']} GB of volumes")
    if missing:
        text += f" (no price for {', '.join(missing)}: not counted)"
    return text


def over_ceiling(result: dict, ceiling) -> bool:
    """The hourly rate passes the plan's ceiling (None: the plan has no full ceiling, nothing to compare)."""
    return ceiling is not None and result["rate"] > float(ceiling) + 1e-9


def with_samples(known: dict, last_seen: dict, seen: dict, spot_types=()) -> None:
    """Fold what the leader's sampler saw into the instances the controller's looks know (in place).

    known: {instance id: EC2 instance}; last_seen: {instance id: ISO time}; seen: {private address: {type,
    first, last}} (cactus_sampler.last_seen_by_address). An instance a sample saw is last seen at the later
    of the two; a worker only the samples saw (started and gone while the controller was offline, and
    forgotten by EC2) counts from its first sample to its last, spot when its type is one of spot_types."""
    by_address = {i.get("PrivateIpAddress"): iid for iid, i in known.items() if i.get("PrivateIpAddress")}
    for address, entry in seen.items():
        iid = by_address.get(address)
        if iid is None:
            iid = f"sampled:{address}"
            known[iid] = {"InstanceId": iid, "InstanceType": entry["type"], "LaunchTime": entry["first"],
                          "State": {"Name": "gone"}}  # fmt: skip
            if entry["type"] in spot_types:
                known[iid]["InstanceLifecycle"] = "spot"
        times = [t for t in (last_seen.get(iid), entry["last"]) if t]
        last_seen[iid] = max(times, key=_utc)
