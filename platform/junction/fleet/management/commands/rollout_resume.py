"""manage.py rollout_resume ID --region CODE [--json]."""

from junction.fleet.commands import RolloutCommand
from junction.fleet.rollouts import rollout_resume


class Command(RolloutCommand):
    help = "Resume a paused or halted rollout: its current wave is offered the release again."
    service = staticmethod(rollout_resume)
    takes_reason = False
