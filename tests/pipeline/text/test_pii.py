import pyarrow as pa
import pytest
from pydantic import ValidationError

from pipeline.text.pii import PiiConfig, pii_redact, redact_pii
from pipeline.text.secrets_patterns import SECRET_KINDS, looks_random, redact_secrets

REDACTED = [
    # (text, redacted text, tags)
    (
        "Write to John.Doe+news@mail.example.co.uk or JANE@Company.ORG.",
        "Write to <EMAIL> or <EMAIL>.",
        ["email", "email"],
    ),
    ("Quoted <miquels@cistron.nl> in a preface", "Quoted <<EMAIL>> in a preface", ["email"]),
    (
        "client 93.184.216.34 connected; (130.89.148.77): icmp_seq=1",
        "client <IP_ADDRESS> connected; (<IP_ADDRESS>): icmp_seq=1",
        ["ip_address", "ip_address"],
    ),
    ("Listen 192.170.2.1:8443 https", "Listen <IP_ADDRESS>:8443 https", ["ip_address"]),
    (
        "from 2603:400a:ffff:bb8::801f:3e and 2a00:1450:4001:82b::200e.",
        "from <IP_ADDRESS> and <IP_ADDRESS>.",
        ["ip_address", "ip_address"],
    ),
    ("Call +1 (555) 123-4567 or +44 20 7946 0958.", "Call <PHONE> or <PHONE>.", ["phone", "phone"]),
    ("Tel. +49 (0)30 1234567, +33 1 23 45 67 89, +81-3-1234-5678", "Tel. <PHONE>, <PHONE>, <PHONE>", ["phone"] * 3),
    (
        "US: 212-555-0143, (212) 555-0143, 1-800-555-0199, 834.345.1254",
        "US: <PHONE>, <PHONE>, <PHONE>, <PHONE>",
        ["phone"] * 4,
    ),
    (
        "Berlin 030 1234567, Paris 01 23 45 67 89, Tokyo 03-1234-5678, London 020 7946 0958",
        "Berlin <PHONE>, Paris <PHONE>, Tokyo <PHONE>, London <PHONE>",
        ["phone"] * 4,
    ),
    ("aws_access_key_id = AKIAQWERTYUIOPASDFGH", "aws_access_key_id = <SECRET>", ["aws_access_key_id"]),
    (
        'AWS_SECRET_ACCESS_KEY="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"',
        'AWS_SECRET_ACCESS_KEY="<SECRET>"',
        ["aws_secret_key"],
    ),
    ("GH_TOKEN: ghp_0123456789abcdefghijABCDEFGHIJ012345", "GH_TOKEN: <SECRET>", ["github_token"]),
    ("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "<SECRET>", ["github_token"]),
    ("xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "<SECRET>", ["slack_token"]),
    ("key=AIzaSyA1234567890abcdefghijklmnopqrstuv&q=1", "key=<SECRET>&q=1", ["google_api_key"]),
    ("stripe.api_key = sk_live_4eC39HqLyjWDarjtT1zdp7dc", "stripe.api_key = <SECRET>", ["stripe_key"]),
    ("OPENAI_API_KEY=sk-proj-Ab3dEfGhIjKlMnOpQrStUvWxYz0123456789AbCd", "OPENAI_API_KEY=<SECRET>", ["openai_key"]),
    (
        "Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQ",  # noqa: E501
        "Bearer <SECRET>",
        ["jwt"],
    ),
    (
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA1234567890abcdef\nabcdefABCDEF0123456789+/==\n"
        "-----END RSA PRIVATE KEY-----\nafter",
        "<SECRET>\nafter",
        ["private_key"],
    ),
    (
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n\nThe page goes on.",
        "<SECRET>\n\nThe page goes on.",
        ["private_key"],
    ),
    (
        "password = \"S3cr3tP@ss!\" and {'apiKey': 'Zx9Qw8Er7Ty6Ui5O'}",
        "password = \"<SECRET>\" and {'apiKey': '<SECRET>'}",
        ["credential", "credential"],
    ),
    (
        "SECRET_KEY=abcdef0123456789abcdef0123456789 ?access_token=ya29.a0AfH6SMBx7u2W0WPXnVbI&x=1",
        "SECRET_KEY=<SECRET> ?access_token=<SECRET>&x=1",
        ["credential", "credential"],
    ),
    (
        'TOKEN = "hf_94wBhPGp6KrrTH3KDchhKpRxZwd6dmHWLL" "Password": "SomeKindOfPassword123!@#"',
        'TOKEN = "<SECRET>" "Password": "<SECRET>"',
        ["credential", "credential"],
    ),
]

KEPT = [
    # e-mail look-alikes: no public domain, reserved names, image variants, SSH remotes, versions
    "user@localhost, logo@2x.png, git@github.com:org/repo.git, a@example.com, x@y.test, python@2.7, pip@24.0",
    # private, loopback, link-local, documentation, multicast and unspecified addresses
    "192.168.1.1 10.0.0.1 172.16.5.4 127.0.0.1 169.254.1.1 192.0.2.1 203.0.113.5 224.0.0.251 0.0.0.0 255.255.255.0",
    "::1 fe80::1 2001:db8::a00:20ff:fea7:ccea ff02::1 ::ffff:192.168.1.1",
    # versions and section numbers (all parts below 32, or marked as such), user agents, longer dotted numbers
    "Python 1.2.3.4, 4.2.13.1. Guided partitioning, v10.20.30.40, version 52.1.23.4, Section 110.7.3.2",
    "Chrome/120.0.0.0 Safari/537.36, OID 1.3.6.1.4.1.311, 93.184.216.34.5",
    # times, MAC addresses, C++ scopes, ratios
    "at 12:30:45 from 00:1a:2b:3c:4d:5e, std::vector, 1:2:3, abc::def",
    # dates, ISBNs, numeric runs, offsets, prices, decimals
    "2023-10-05, 05/10/2023, 05.10.2023, 05-10-2023, ISBN 978-3-16-148410-0, ISBN 0-306-40615-2",
    "combinations --> 012 013 023 123; 05 10 15 20 25 30; 123-456-7890; +000000120; +0.5; 1 234 567; 3.14159265",
    "51 Franklin Street, Fifth Floor, Boston, MA  02110-1301  USA",
    # placeholders and non-random values in assignments; keywords inside longer names
    'password = "hunter2" secret = "${SECRET_KEY}" "api_key": "your_api_key_here" token: TokenType;',
    'tokenizer = "meta-llama/Llama-2-7b-hf" max_tokens = 4096 passenger = "AliceSmith12" monkey = "Abc123Def456"',
    "private_key: /etc/ssl/private/key2.pem AKIAIOSFODNN7EXAMPLE sk-fading-circle-spinner-rotate-animation-x",
    # real code that the keyword rule once redacted (pygments, transformers, .NET, botocore, cryptography, django)
    "token = Name.Builtin\n    bos_token_id: torch.Tensor | None\nChannelCredentials = grpc.ChannelCredentials",
    'publicKeyToken=b77a5c561934e089 "ClientRequestToken": "a8ca07e4-61ec-4399-99f4-19853801bcd5"',
    '"NextToken": "eyJOZXh0VG9rZW4iOiBudWxsfQ==", "LockToken":"e3db7e2c-d58b-4ee6-8346-6aec5511c6fb"',
    'secret_key = s3_connection "SecretId": "MyTestDatabaseSecret1" secret_key = settings.SECRET_KEY',
    '_PKCS1_MARKER = ("-----BEGIN RSA PRIVATE KEY-----", "-----END RSA PRIVATE KEY-----")',
    '"secret": "V1SecretVolumeSource", esxi1_password: @ESXI1_PASSWORD refresh token: https://tools.ietf.org/x',
]


@pytest.mark.parametrize(("text", "redacted", "tags"), REDACTED)
def test_redacted(text, redacted, tags):
    assert redact_pii(text, PiiConfig()) == (redacted, tags)


@pytest.mark.parametrize("text", KEPT)
def test_near_misses_stay(text):
    assert redact_pii(text, PiiConfig()) == (text, [])


def test_each_type_can_be_switched_off():
    text = "a@mailbox.org from 93.184.216.34, call +44 20 7946 0958, token ghp_0123456789abcdefghijABCDEFGHIJ012345"
    assert redact_pii(text, PiiConfig(emails=False))[1] == ["github_token", "ip_address", "phone"]
    assert redact_pii(text, PiiConfig(ip_addresses=False))[1] == ["github_token", "email", "phone"]
    assert redact_pii(text, PiiConfig(phones=False))[1] == ["github_token", "email", "ip_address"]
    assert redact_pii(text, PiiConfig(secrets=False))[1] == ["email", "ip_address", "phone"]
    assert redact_pii(text, PiiConfig(secret_kinds=["jwt"]))[1] == ["email", "ip_address", "phone"]


def test_unknown_secret_kind_is_refused():
    with pytest.raises(ValidationError, match="unknown secret kinds"):
        PiiConfig(secret_kinds=["github_token", "ssn"])
    assert "github_token" in SECRET_KINDS and "credential" in SECRET_KINDS


def test_placeholders_are_not_special_tokens_and_not_redacted_again():
    once, tags = redact_pii("api_key = 'Zx9Qw8Er7Ty6Ui5O' a@mailbox.org +44 20 7946 0958 93.184.216.34", PiiConfig())
    assert once == "api_key = '<SECRET>' <EMAIL> <PHONE> <IP_ADDRESS>" and "<|" not in once
    assert redact_pii(once, PiiConfig()) == (once, [])


def test_looks_random():
    assert looks_random("Tr0ub4dor&3") and looks_random("9f86d081884c7d659a2feaa0c55ad015")
    assert not looks_random("correcthorsebatterystaple") and not looks_random("xxxxxxxxxxxx")
    assert not looks_random("/var/lib/secret2.txt") and not looks_random("${DB_PASSWORD}")


def test_secret_redaction_alone():
    assert redact_secrets("token: ghp_0123456789abcdefghijABCDEFGHIJ012345", placeholder="[KEY]") == (
        "token: [KEY]",
        ["github_token"],
    )


def test_stage_rewrites_text_and_tags_rows():
    table = pa.table(
        {
            "id": ["a", "b", "c"],
            "text": pa.array(["no pii here", "a@mailbox.org and b@mailbox.org", "ip 93.184.216.34"], pa.large_string()),
        }
    )
    out = pii_redact(table, PiiConfig())
    assert out["text"].type == pa.large_string() and out["id"].equals(table["id"])
    assert out["text"].to_pylist() == ["no pii here", "<EMAIL> and <EMAIL>", "ip <IP_ADDRESS>"]
    assert out["rewrite_tags"].type == pa.list_(pa.string())
    assert out["rewrite_tags"].to_pylist() == [[], ["email", "email"], ["ip_address"]]
