import json

import pyarrow as pa

from pipeline.web.url_filter import UrlFilterConfig, url_filter


def table(*urls: str | None) -> pa.Table:
    metas = [
        json.dumps({"url": u, "title": "Walks"}) if u is not None else json.dumps({"title": "Walks"}) for u in urls
    ]
    return pa.table({"text": pa.array(["some text"] * len(urls)), "meta": pa.array(metas)})


def reasons(t: pa.Table, cfg: UrlFilterConfig) -> list[str | None]:
    return url_filter(t, cfg)["drop_reason"].to_pylist()


def test_no_list_keeps_everything():
    assert reasons(table("https://casino.example/win", None), UrlFilterConfig()) == [None, None]


def test_blocked_domain_and_its_subdomains_only():
    t = table(
        "https://spam.example.com/page",
        "http://www.Spam.Example.com:8080/a?b=1",
        "https://notspam.example.com/",
        "https://example.com/",
        "https://spam.example.com.evil.org/",
        None,
    )
    assert reasons(t, UrlFilterConfig(blocked_domains=["spam.example.com"])) == [
        "blocked_domain",
        "blocked_domain",
        None,
        None,
        None,
        None,
    ]


def test_domains_from_a_file_with_comments(tmp_path):
    listed = tmp_path / "domains.txt"
    listed.write_text("# adult sites\ncasino.example\n\n*.ads.example  # ad servers\nhttps://tracker.example/\n")
    t = table(
        "https://www.casino.example/",
        "https://x.ads.example/banner",
        "https://tracker.example/pixel",
        "https://walks.example/",
    )
    assert reasons(t, UrlFilterConfig(blocked_domains_file=str(listed))) == [
        "blocked_domain",
        "blocked_domain",
        "blocked_domain",
        None,
    ]


def test_banned_words_anywhere_in_the_url():
    t = table("https://walks.example/free-CASINO-bonus", "https://walks.example/river-trail")
    assert reasons(t, UrlFilterConfig(banned_url_words=["casino"])) == ["banned_url_word", None]


def test_domain_rule_comes_first_and_bad_meta_is_kept():
    odd = pa.table({"text": pa.array(["x", "x"]), "meta": pa.array(['{"url": "http://[::1/x"}', 'not json "url"'])})
    t = pa.concat_tables([table("https://casino.example/casino"), odd])
    cfg = UrlFilterConfig(blocked_domains=["casino.example"], banned_url_words=["casino"])
    assert reasons(t, cfg) == ["blocked_domain", None, None]
