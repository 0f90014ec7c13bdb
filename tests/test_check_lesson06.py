"""Lesson 06's exercise check (combine_branches): the reference passes, typical mistakes fail."""

import pytest

torch = pytest.importorskip("torch")

from cflearn import check  # noqa: E402


def reference(user_vecs, item_vecs, user_bias, item_bias, global_mean, mlp):
    main = global_mean + user_bias + item_bias + (user_vecs * item_vecs).sum(dim=1)
    side = mlp(torch.cat([user_vecs, item_vecs], dim=1)).squeeze(-1)
    return main + side


def main_only(user_vecs, item_vecs, user_bias, item_bias, global_mean, mlp):
    return global_mean + user_bias + item_bias + (user_vecs * item_vecs).sum(dim=1)


def no_biases(user_vecs, item_vecs, user_bias, item_bias, global_mean, mlp):
    side = mlp(torch.cat([user_vecs, item_vecs], dim=1)).squeeze(-1)
    return global_mean + (user_vecs * item_vecs).sum(dim=1) + side


def no_mean(user_vecs, item_vecs, user_bias, item_bias, global_mean, mlp):
    return reference(user_vecs, item_vecs, user_bias, item_bias, 0.0, mlp)


def swapped_concat(user_vecs, item_vecs, user_bias, item_bias, global_mean, mlp):
    main = global_mean + user_bias + item_bias + (user_vecs * item_vecs).sum(dim=1)
    return main + mlp(torch.cat([item_vecs, user_vecs], dim=1)).squeeze(-1)


def unsqueezed_side(user_vecs, item_vecs, user_bias, item_bias, global_mean, mlp):
    main = global_mean + user_bias + item_bias + (user_vecs * item_vecs).sum(dim=1)
    return main + mlp(torch.cat([user_vecs, item_vecs], dim=1))  # (batch,) + (batch, 1)


def matrix_product(user_vecs, item_vecs, user_bias, item_bias, global_mean, mlp):
    side = mlp(torch.cat([user_vecs, item_vecs], dim=1)).squeeze(-1)
    return global_mean + user_bias + item_bias + user_vecs @ item_vecs.T + side


def returns_numpy(*args):
    return reference(*args).numpy().tolist()


def raises(user_vecs, item_vecs, user_bias, item_bias, global_mean, mlp):
    return mlp(user_vecs)  # wrong width: the Linear layer refuses it


def stub(*args):
    raise NotImplementedError("Exercise: write your answer here, then run the check below.")


def test_reference_passes():
    result = check.run("combine_branches", reference)
    assert result.status == "passed", repr(result)


@pytest.mark.parametrize(
    "wrong, fragment",
    [
        (main_only, "add the side branch"),
        (no_biases, "biases too"),
        (no_mean, "global mean"),
        (swapped_concat, "the user's first"),
        (unsqueezed_side, "drop its last dimension"),
        (matrix_product, "matrix product pairs every user"),
        (returns_numpy, "return a torch tensor"),
    ],
)
def test_typical_mistakes_fail_with_a_hint(wrong, fragment):
    result = check.run("combine_branches", wrong)
    assert result.status == "failed", repr(result)
    assert fragment in first_hint(result), first_hint(result)


def first_hint(result):
    return [c.hint for c in result.cases if not c.passed][0]


def detached(*args):
    return reference(*args).detach()


def no_item_bias(user_vecs, item_vecs, user_bias, item_bias, global_mean, mlp):
    return reference(user_vecs, item_vecs, user_bias, torch.zeros_like(item_bias), global_mean, mlp)


def multiplied(user_vecs, item_vecs, user_bias, item_bias, global_mean, mlp):
    main = global_mean + user_bias + item_bias + (user_vecs * item_vecs).sum(dim=1)
    return main * mlp(torch.cat([user_vecs, item_vecs], dim=1)).squeeze(-1)


@pytest.mark.parametrize(
    "wrong, fragment",
    [(detached, "gradients reach"), (no_item_bias, "item's bias too"), (multiplied, "not multiplied")],
)
def test_more_mistakes_first_hint_names_them(wrong, fragment):
    result = check.run("combine_branches", wrong)
    assert result.status == "failed", repr(result)
    assert fragment in first_hint(result), first_hint(result)


def test_raising_answer_is_an_error():
    result = check.run("combine_branches", raises)
    assert result.status == "error"
    assert "RuntimeError" in result.message and "in raises" in result.message


def test_check_leaves_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    check.run("combine_branches", reference)
    assert torch.equal(torch.rand(3), expected)
