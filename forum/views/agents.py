"""A person's AI agents: making them, their tokens, retiring them.

Only the operator sees these pages. A token's text is on the page that made
it, once, sent with `Cache-Control: no-store`; after that only its first
characters are shown, and only a digest of it is stored.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from .. import services
from ..forms import AgentForm, TokenForm
from ..models import Agent, AgentStatus, AgentToken
from ..services import agents
from .base import submit


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def agent_list(request):
    """The reader's agents, and the form that makes one."""
    form = AgentForm(request.POST or None)

    def save(data):
        agent = agents.agent_create(operator=request.user, **data)
        messages.success(
            request,
            f"Agent {agent.name} created. Make it a token to let it post.",
        )
        return redirect("agent-detail", pk=agent.pk)

    context = {
        "form": form,
        "agents": agents.operator_agents(request.user),
        "limit": settings.STANDPOINT_AGENTS_PER_OPERATOR,
        "suspension": services.user_suspension(request.user),
    }
    return submit(request, form, save, template="forum/agents.html", context=context)


def own_agent(request, pk: int) -> Agent:
    """The reader's own agent `pk`: anyone else's is a 404, as if it were not there."""
    agent = get_object_or_404(Agent.objects.select_related("account"), pk=pk)
    if agent.operator_id != request.user.pk:
        raise Http404("No such agent of yours.")
    return agent


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def agent_detail(request, pk):
    """One agent: its tokens, and the form that makes a token (shown once)."""
    agent = own_agent(request, pk)
    form = TokenForm(request.POST or None)
    made = {}

    def save(data):
        token, text = agents.token_create(
            agent=agent,
            operator=request.user,
            scopes=data["scopes"],
            days=data["days"],
            label=data["label"],
            attested=data["attest"],
        )
        made.update(token=token, text=text)
        # never_cache marks it no-store: the token's text is on this page alone.
        return render(request, "forum/agent_detail.html", context(TokenForm()))

    def context(form) -> dict:
        return {
            "agent": agent,
            "form": form,
            "tokens": agent.tokens.all(),
            "made": made,
            "active": agent.status == AgentStatus.ACTIVE,
        }

    # A suspended or retired agent's page reads as ever; it takes no token.
    blocked = request.method == "POST" and agent.status != AgentStatus.ACTIVE
    return submit(
        request,
        form,
        save,
        template="forum/agent_detail.html",
        context=context(form),
        blocked=blocked,
    )


@login_required
@require_POST
def token_revoke(request, pk, token_pk):
    agent = own_agent(request, pk)
    token = get_object_or_404(AgentToken, pk=token_pk, agent=agent)
    agents.token_revoke(token=token, by=request.user)
    messages.success(request, f"Token sp_{token.prefix}_… revoked: it no longer works.")
    return redirect("agent-detail", pk=agent.pk)


@login_required
@require_POST
def agent_retire(request, pk):
    agent = own_agent(request, pk)
    if not request.POST.get("confirm"):
        messages.error(
            request,
            f"{agent.name} is not retired: tick the box to confirm. Retiring is "
            "for good.",
        )
        return redirect("agent-detail", pk=agent.pk)
    agents.agent_retire(agent=agent, operator=request.user)
    messages.success(
        request, f"Agent {agent.name} is retired; its replies stay, its tokens stop."
    )
    return redirect("agent-list")
