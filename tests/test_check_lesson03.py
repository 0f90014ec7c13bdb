"""Lesson 03 checker (dot_forward): the reference passes, typical wrong answers fail."""

import pytest

from cflearn import check

torch = pytest.importorskip("torch")


def dot_forward(user_emb, item_emb, user, item):
    return (user_emb[user] * item_emb[item]).sum(dim=1)  # (batch,)


def stub(user_emb, item_emb, user, item):
    raise NotImplementedError("Exercise: write your answer here, then run the check below.")


def test_registered():
    assert check.names(lesson="03") == ["dot_forward"]


def test_reference_passes():
    result = check.run("dot_forward", dot_forward)
    assert result.status == "passed", result
    assert len(result.cases) == 4


def test_other_correct_forms_pass():
    def with_einsum(user_emb, item_emb, user, item):
        return torch.einsum("bf,bf->b", user_emb[user], item_emb[item])

    def with_modules(user_emb, item_emb, user, item):
        users = torch.nn.Embedding.from_pretrained(user_emb, freeze=False)
        items = torch.nn.Embedding.from_pretrained(item_emb, freeze=False)
        return (users(user) * items(item)).sum(-1)

    assert check.run("dot_forward", with_einsum).passed
    assert check.run("dot_forward", with_modules).passed


@pytest.mark.parametrize(
    "wrong, fragment",
    [
        (lambda u, i, user, item: u[user] @ i[item].T, "(batch, batch)"),
        (lambda u, i, user, item: (u[user] * i[item]).sum(0), "sum over the factors axis"),
        (lambda u, i, user, item: (u[item] * i[user]).sum(1), "user's row in the user table"),
        (lambda u, i, user, item: (u[user] * i[item]).sum(1, keepdim=True), "drop the last axis"),
        (lambda u, i, user, item: (u[user] * i[item]).mean(1), "sum over the factors"),
        (lambda u, i, user, item: (u[user] + i[item]).sum(1), "entry by entry"),
    ],
)
def test_wrong_answers_fail(wrong, fragment):
    result = check.run("dot_forward", wrong)
    assert result.status == "failed", result
    assert fragment in repr(result)


def test_detached_answer_fails_the_gradient_case():
    result = check.run("dot_forward", lambda *a: dot_forward(*a).detach().numpy())
    assert result.status == "failed"
    assert [c.passed for c in result.cases] == [True, True, True, False]
    assert "gradients" in repr(result)


def test_raising_answer_is_an_error():
    def buggy(user_emb, item_emb, user, item):
        return user_emb[user].dot(item_emb[item])  # dot needs 1-D tensors

    result = check.run("dot_forward", buggy)
    assert result.status == "error"
    assert "buggy" in result.message


def test_stub_is_not_attempted():
    assert check.run("dot_forward", stub).status == "not attempted"
    assert check.run("dot_forward", None).status == "not attempted"


def test_messages_never_show_the_checker_code():
    for answer in (dot_forward, lambda *a: 0, stub):
        text = repr(check.run("dot_forward", answer))
        assert "user_emb[user] * item_emb[item]" not in text
