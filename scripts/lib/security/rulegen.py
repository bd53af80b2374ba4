"""Build lib/security/rules.py: the redactor's rule set, from detect-secrets plus baton's own rules.

The redactor must run inside the telemetry hook, which imports only the standard library,
so the rules cannot be read from detect-secrets at run time. This module reads the regex
plugins of the installed detect-secrets, applies the shaping below (which part of a match
is the secret, word boundaries, which plugins are left out and why) and renders a plain
data module. `scripts/build_redact_rules.py` writes it; a test fails when the checked-in
file differs from what the installed detect-secrets gives, so an upgrade that adds or
changes a plugin cannot pass unnoticed.

Order matters: at one position the first rule that matches wins, so baton's rules (which
redact a whole private key block, the whole JWT, names the provider) come before the
plugins' broader patterns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lib.core.errors import BatonError

# Start of a token: not preceded by a token character, or preceded by a literal `\n`/`\r`/`\t`
# (a JSON-encoded string inside a JSON string, e.g. tool output).
_B = r"(?:(?<![A-Za-z0-9_-])|(?<=\\[nrt]))"
# End of a token: not followed by a token character.
_E = r"(?![A-Za-z0-9_-])"


@dataclass(frozen=True)
class Rule:
    """One rule: `pattern` matches; its group `s` (when present) is the secret, else the whole match."""

    kind: str
    pattern: str
    source: str
    anchors: tuple[str, ...]  # lower-case literals, one of which every match contains
    lead: str = ""  # where a match may begin before its anchor: see LEADS


@dataclass(frozen=True)
class PluginShape:
    """How one detect-secrets pattern is used: its kind, which group is the secret, boundaries, anchors."""

    kind: str
    anchors: tuple[str, ...] = ()
    group: int = 0  # 0: the whole match
    bounded: bool = False  # wrap in token boundaries (the plugin's own pattern has none)
    lead: str = ""
    skip: str = ""  # why this one pattern is not used


# A rule is tried only where one of its anchors occurs (one scan of the text finds them all):
# running ~85 patterns over every position measured 0.2 MB/s. `lead` says where the match may
# begin: "" at the anchor, "prev" one character before it, "name"/"quoted"/"scheme" after walking
# back over identifier, quoted-identifier or URL-scheme characters, "line" at the line's start.
# "scan" rules have no usable literal and run over the whole text (their patterns start with a
# literal or a narrow character class, which the regex engine scans for quickly).
LEADS = ("", "prev", "name", "quoted", "scheme", "line", "scan")


class RuleGenError(BatonError):
    """The installed detect-secrets has a plugin or pattern this module does not know how to shape."""


# Secret names for assignments (`NAME=value`, `name: "value"`, `"name": "value"`, `x-api-key:`).
# detect-secrets' KeywordDetector keywords are the core; the rest are names teams use for tokens.
EXTRA_KEYWORDS = (
    "access_?key", "secret_?key", "client_?secret", "app_?secret", "signing_?key", "encryption_?key",
    "master_?key", "credentials?", "api-?key", "passphrase",
)
# Names that end in one of these are secrets too (`GITHUB_TOKEN`, `refresh_token`, `auth`), but
# not names that merely contain them (`input_tokens`, `max_tokens`, `author`).
SUFFIX_KEYWORDS = ("token", "auth", "_pat", "sas")
# What follows such a name: the anchors are the suffix plus one of these, so that `input_tokens`
# and `file_path` (which every transcript is full of) are not even looked at.
_NAME_ENDS = ("=", ":", "\"", "'", " ", "\t")


def expand(keyword: str) -> list[str]:
    """The literal spellings of a keyword pattern (`api_?key` -> `api_key`, `apikey`)."""
    out = [""]
    i = 0
    while i < len(keyword):
        ch = keyword[i]
        if keyword[i + 1:i + 2] == "?":
            out = [o + ch for o in out] + out
            i += 2
        else:
            out = [o + ch for o in out]
            i += 1
    return sorted(set(out))


def assignment_rule(keywords: tuple[str, ...]) -> Rule:
    names = "|".join(keywords + EXTRA_KEYWORDS)
    suffixes = "|".join(SUFFIX_KEYWORDS)
    name = (
        r"(?<![A-Za-z0-9_.-])(?!(?i:old)?PWD\b)"  # $PWD and $OLDPWD are folders, not passwords
        r"(?i:[A-Za-z0-9_.-]*(?:" + names + r")[A-Za-z0-9_-]*|[A-Za-z0-9_.-]*(?:" + suffixes + r"))"
    )
    value = (
        r"(?P<s>"
        r"(?<=\")(?!\d+\")[^\"\n\\]{3,200}(?=\")"  # "value" (spaces allowed: passphrases)
        r"|(?<=')(?!\d+')[^'\n\\]{3,200}(?=')"  # 'value'
        # A bare value only straight after `=` (`PASSWORD=x`, `--token=x`) or after `:` (YAML,
        # headers); `token = settings.get(...)` is code, not a secret. Not a number, a boolean or
        # a call.
        r"|(?:(?<=[A-Za-z0-9_\"'\]]=)|(?<=:)|(?<=:[ \t]))"
        r"(?![\d.]+(?![^\s\"',;&|)}\]<>\\]))(?!(?i:true|false|null|none|yes|on|off)\b)"
        r"(?![^\s\"',;&|)}\]<>\\(]*\()[^\s\"',;&|)}\]<>\\]{3,})"
    )
    anchors = sorted({a for k in keywords + EXTRA_KEYWORDS for a in expand(k)}
                     | {k + end for k in SUFFIX_KEYWORDS for end in _NAME_ENDS})
    return Rule(
        "secret-assignment",
        name + r"[\"']?[ \t]*(?:=|:=|=>|:)[ \t]*[\"']?" + value,
        "detect-secrets KeywordDetector keywords and baton's; .env, YAML, JSON, HTTP header, --name=value",
        tuple(anchors), "name",
    )


def baton_rules(keywords: tuple[str, ...]) -> list[Rule]:
    """baton's own rules: formats the plugins miss or match only in part."""
    return [
        Rule("private-key",
             r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----[\s\S]*?"
             r"(?:-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----|\Z)",
             "RFC 7468 PEM; OpenSSH and PGP armour: the whole block, not only its header", ("-----begin",)),
        Rule("anthropic-key", _B + r"sk-ant-[A-Za-z0-9_-]{20,}", "Anthropic API and admin keys (sk-ant-api03-, sk-ant-admin01-)",
             ("sk-ant-",)),
        Rule("openai-key", _B + r"sk-(?:proj-|svcacct-|admin-)?(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9_-]{20,}",
             "OpenAI keys (sk-, sk-proj-, sk-svcacct-)", ("sk-",)),
        Rule("stripe-key", _B + r"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}" + _E, "Stripe secret and restricted keys",
             ("sk_live_", "rk_live_", "sk_test_", "rk_test_")),
        Rule("stripe-webhook-secret", _B + r"whsec_[A-Za-z0-9]{24,}" + _E, "Stripe webhook signing secrets", ("whsec_",)),
        Rule("github-token", _B + r"gh[pousr]_[A-Za-z0-9]{30,}" + _E, "GitHub tokens (ghp_, gho_, ghu_, ghs_, ghr_)",
             ("ghp_", "gho_", "ghu_", "ghs_", "ghr_")),
        Rule("github-token", _B + r"github_pat_[A-Za-z0-9_]{22,}", "GitHub fine-grained personal access tokens",
             ("github_pat_",)),
        Rule("gitlab-token", _B + r"gl(?:pat|dt|ft|soat|rt|cbt|imt|ptt|oas|agent)-[A-Za-z0-9_-]{20,}" + _E,
             "GitLab tokens (glpat-, gldt-, ...)",
             ("glpat-", "gldt-", "glft-", "glsoat-", "glrt-", "glcbt-", "glimt-", "glptt-", "gloas-", "glagent-")),
        Rule("npm-token", _B + r"npm_[A-Za-z0-9]{36}" + _E, "npm access tokens", ("npm_",)),
        Rule("huggingface-token", _B + r"hf_[A-Za-z0-9]{30,}" + _E, "Hugging Face user access tokens", ("hf_",)),
        Rule("pypi-token", _B + r"pypi-AgE[A-Za-z0-9_-]{50,}", "PyPI API tokens (any index)", ("pypi-age",)),
        Rule("aws-access-key-id", _B + r"(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[0-9A-Z]{16}(?![0-9A-Za-z])",
             "AWS access key ids", ("akia", "asia", "abia", "acca", "a3t")),
        Rule("aws-secret-key",
             r"(?i:aws_?secret_?access_?key|secretaccesskey)[\"']?\s*[:=]\s*[\"']?"
             r"(?P<s>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])", "AWS secret access keys in assignments",
             ("aws", "secretaccesskey")),
        Rule("slack-token", _B + r"xox[abposre]-[A-Za-z0-9-]{10,}", "Slack bot, user and refresh tokens", ("xox",)),
        Rule("slack-token", _B + r"xapp-\d-[A-Za-z0-9-]{10,}", "Slack app-level tokens", ("xapp-",)),
        Rule("slack-webhook", r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/-]{20,}",
             "Slack incoming webhook and workflow URLs", ("https://hooks.slack.com",)),
        Rule("discord-webhook", r"https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/\d+/[A-Za-z0-9_-]{20,}",
             "Discord webhook URLs", ("https://discord", "https://ptb.discord", "https://canary.discord")),
        Rule("sendgrid-key", _B + r"SG\.[A-Za-z0-9_-]{16,32}\.[A-Za-z0-9_-]{16,64}" + _E, "SendGrid API keys", ("sg.",)),
        Rule("azure-storage-key", r"(?i:AccountKey|SharedAccessKey)=(?P<s>[A-Za-z0-9+/]{20,}={0,2})",
             "Azure storage and service bus connection strings", ("accountkey=", "sharedaccesskey=")),
        Rule("azure-sas-signature", r"[?&]sig=(?P<s>[A-Za-z0-9%+/]{30,}={0,2})", "Azure shared access signature URLs",
             ("sig=",), "prev"),
        Rule("notion-token", _B + r"(?:secret_|ntn_)[A-Za-z0-9]{40,}" + _E, "Notion integration tokens", ("secret_", "ntn_")),
        Rule("google-api-key", _B + r"AIza[0-9A-Za-z_-]{35}" + _E, "Google API keys", ("aiza",)),
        Rule("google-oauth-secret", _B + r"GOCSPX-[A-Za-z0-9_-]{28}" + _E, "Google OAuth client secrets", ("gocspx-",)),
        Rule("shopify-token", _B + r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}" + _E, "Shopify access tokens",
             ("shpat_", "shpca_", "shppa_", "shpss_")),
        Rule("digitalocean-token", _B + r"do[opr]_v1_[a-f0-9]{64}" + _E, "DigitalOcean tokens",
             ("dop_v1_", "doo_v1_", "dor_v1_")),
        Rule("linear-key", _B + r"lin_(?:api|oauth)_[A-Za-z0-9]{40}" + _E, "Linear API keys", ("lin_api_", "lin_oauth_")),
        Rule("doppler-token", _B + r"dp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,}" + _E, "Doppler tokens",
             ("dp.pt.", "dp.st.", "dp.sa.", "dp.ct.", "dp.scim.", "dp.audit.")),
        Rule("vault-token", _B + r"hv[sb]\.[A-Za-z0-9_-]{24,}" + _E, "HashiCorp Vault tokens", ("hvs.", "hvb.")),
        Rule("postman-key", _B + r"PMAK-[a-f0-9]{24}-[a-f0-9]{34}" + _E, "Postman API keys", ("pmak-",)),
        Rule("atlassian-token", _B + r"ATATT3[A-Za-z0-9_=-]{150,}" + _E, "Atlassian API tokens", ("atatt3",)),
        Rule("grafana-token", _B + r"(?:glsa_[A-Za-z0-9]{32}_[a-f0-9]{8}|glc_[A-Za-z0-9+/]{32,}={0,2})" + _E,
             "Grafana service account and cloud tokens", ("glsa_", "glc_")),
        Rule("sentry-token", _B + r"sntr[ysu]_[A-Za-z0-9+/=_]{40,}", "Sentry auth tokens", ("sntrys_", "sntryu_", "sntrsu_")),
        Rule("databricks-token", _B + r"dapi[a-f0-9]{32}(?:-\d)?" + _E, "Databricks personal access tokens", ("dapi",)),
        Rule("age-secret-key", r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}", "age encryption secret keys",
             ("age-secret-key-1",)),
        Rule("mailgun-key", _B + r"key-[a-f0-9]{32}" + _E, "Mailgun API keys", ("key-",)),
        Rule("jwt", _B + r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*", "JSON Web Tokens, all three parts",
             ("eyj",)),
        # `Bearer <token>`: the token must contain a digit, so prose ("Bearer authentication") is kept.
        Rule("bearer",
             r"(?:(?<![A-Za-z0-9])|(?<=\\[nrt]))(?i:bearer)\s+"
             r"(?P<s>(?=[A-Za-z0-9._~+/-]*\d)[A-Za-z0-9._~+/-]{16,}=*)",
             "Bearer tokens", ("bearer",)),
        # `Authorization:` names its value a credential, whatever the scheme.
        Rule("authorization-header",
             r"(?i:(?<![A-Za-z0-9-])(?:proxy-)?authorization)[\"']?[ \t]*[:=][ \t]*[\"']?"
             r"(?:(?i:basic|bearer|token|digest|bot|apikey|sso-key)[ \t]+)?(?P<s>[A-Za-z0-9._~+/=:-]{8,})",
             "HTTP Authorization and Proxy-Authorization headers (Basic, Bearer, Token, ...)", ("authorization",), "name"),
        Rule("url-credentials",
             r"(?<![A-Za-z0-9+.-])(?i:[a-z][a-z0-9+.-]{1,30})://[^\s:/?#@\"'<>]{1,256}:(?P<s>[^\s/?#@\"'<>]{1,256})@",
             "user:password@ in URLs (postgres://, mysql://, redis://, amqp://, https://, ...)", ("://",), "scheme"),
        assignment_rule(keywords),
    ]


# Every regex plugin of detect-secrets, pattern by pattern (in the plugin's order). A plugin or a
# pattern count not listed here stops the build: someone must decide how its matches are used.
_CLOUDANT = ("cloudant", "cl_", "cl-", "clapi", "clkey", "clpass", "clpw", "cltoken", "clou")
_SOFTLAYER = ("softlayer", "sl_", "sl-", "slapi", "slkey", "slpass", "slpwd", "sltoken")
_GITLAB = ("glpat-", "gldt-", "glft-", "glsoat-", "glrt-")
_PRIVATE_KEY = ("begin dsa private key", "begin ec private key", "begin openssh private key",
                "begin pgp private key block", "begin private key", "begin rsa private key",
                "begin ssh2 encrypted private key", "putty-user-key-file-2")
PLUGIN_SHAPES: dict[str, tuple[PluginShape, ...]] = {
    "AWSKeyDetector": (PluginShape("aws-access-key-id", ("akia", "asia", "abia", "acca", "a3t"), bounded=True),
                       PluginShape("aws-secret-key", ("aws",), group=1)),
    "ArtifactoryDetector": (PluginShape("artifactory-token", ("akc",), lead="prev"),
                            PluginShape("artifactory-token", skip="`AP` + hex + 8 letters: capitalised words")),
    "AzureStorageKeyDetector": (PluginShape("azure-storage-key", ("accountkey=",)),),
    "BasicAuthDetector": (PluginShape("url-credentials", ("://",), group=1),),
    "CloudantDetector": (PluginShape("cloudant-credentials", _CLOUDANT, group=1, lead="quoted"),) * 2
    + (PluginShape("cloudant-credentials", ("://",), group=1, lead="scheme"),) * 2,
    "DiscordBotTokenDetector": (PluginShape("discord-bot-token", bounded=True, lead="scan"),),
    "GitHubTokenDetector": (PluginShape("github-token", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), bounded=True),),
    "GitLabTokenDetector": (PluginShape("gitlab-token", _GITLAB, bounded=True),
                            PluginShape("gitlab-token", ("gr1348941",), bounded=True),
                            PluginShape("gitlab-token", ("glcbt-",), bounded=True),
                            PluginShape("gitlab-token", ("glimt-",), bounded=True),
                            PluginShape("gitlab-token", ("glptt-",), bounded=True),
                            PluginShape("gitlab-token", ("glagent-",), bounded=True),
                            PluginShape("gitlab-token", ("gloas-",), bounded=True)),
    "IbmCloudIamDetector": (PluginShape("ibm-cloud-iam-key", tuple(w + end for w in ("key", "pwd", "pass", "token")
                                                               for end in _NAME_ENDS), group=1, lead="quoted"),),
    "IbmCosHmacDetector": (PluginShape("ibm-cos-hmac", ("secret",), group=1, lead="quoted"),),
    "JwtTokenDetector": (PluginShape("jwt", ("eyj",), bounded=True),),
    "MailchimpDetector": (PluginShape("mailchimp-key", ("-us",), bounded=True, lead="name"),),
    "NpmDetector": (PluginShape("npm-token", (":_authtoken=",), group=1, lead="line"),),
    "OpenAIDetector": (PluginShape("openai-key", ("t3blbkfj",), bounded=True, lead="name"),),
    "PrivateKeyDetector": tuple(PluginShape("private-key", (a,)) for a in _PRIVATE_KEY),
    "PypiTokenDetector": (PluginShape("pypi-token", ("pypi-agei",), bounded=True),
                          PluginShape("pypi-token", ("pypi-agen",), bounded=True)),
    "SendGridDetector": (PluginShape("sendgrid-key", ("sg.",), bounded=True),),
    "SlackDetector": (PluginShape("slack-token", ("xox",), bounded=True),
                      PluginShape("slack-webhook", ("https://hooks.slack.com",))),
    "SoftlayerDetector": (PluginShape("softlayer-key", _SOFTLAYER, group=1, lead="quoted"),
                          PluginShape("softlayer-key", ("://",), group=1, lead="scheme")),
    "SquareOAuthDetector": (PluginShape("square-oauth-secret", ("sq0csp-",), bounded=True),),
    "StripeDetector": (PluginShape("stripe-key", ("sk_live_", "rk_live_"), bounded=True),),
    "TelegramBotTokenDetector": (PluginShape("telegram-bot-token", bounded=True, lead="scan"),),
    "TwilioKeyDetector": (PluginShape("twilio-key", bounded=True, lead="scan"),) * 2,
}
# Plugins deliberately not used, and why (docs/security.md repeats this).
PLUGINS_LEFT_OUT: dict[str, str] = {
    "IPPublicDetector": "an IP address is not a credential, and failure text needs it",
    "Base64HighEntropyString": "entropy, not a pattern: it would redact git SHAs, hashes and base64 images",
    "HexHighEntropyString": "entropy, not a pattern: it would redact git SHAs and content hashes",
    "KeywordDetector": "its keywords are used by the secret-assignment rule",
}
# Searched literals: an anchor holding one of these stems is searched for by the stem (fewer,
# shorter literals: each is one str.find pass over the text), and only literals that contain
# no other are searched for; a hit wakes the rules of every anchor really there around it.
STEMS = ("key", "pass", "pwd", "secret", "token", "auth", "sas", "_pat", "private key", "gl", "gh", "dp.",
         "sntr", "shp", "_v1_", "lin_", "k_live_", "k_test_", "hv")
_SCOPED_FLAGS = ((re.IGNORECASE, "i"), (re.MULTILINE, "m"), (re.DOTALL, "s"), (re.VERBOSE, "x"))


def _plugin_classes() -> dict[str, type]:
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

    classes: list[type] = list(get_mapping_from_secret_type_to_class().values())
    return {cls.__name__: cls for cls in classes}


def detect_secrets_version() -> str:
    from importlib.metadata import version

    return version("detect-secrets")


def keyword_denylist() -> tuple[str, ...]:
    from detect_secrets.plugins import keyword

    return tuple(str(k) for k in keyword.DENYLIST)


def _scoped(pattern: re.Pattern[str]) -> str:
    """The pattern's source with its flags made local, so it can sit in an alternation."""
    letters = "".join(letter for flag, letter in _SCOPED_FLAGS if pattern.flags & flag)
    source = pattern.pattern
    if pattern.flags & re.VERBOSE:  # comments and layout would end at the group's edge; drop them
        source = re.sub(r"\s+#[^\n]*|\s+", "", source)
        letters = letters.replace("x", "")
    return f"(?{letters}:{source})" if letters else source


def _capture_to_secret(source: str, group: int) -> str:
    """Rewrite capturing groups as non-capturing, and capturing group `group` as `(?P<s>`."""
    out: list[str] = []
    number = 0
    i = 0
    in_class = False
    while i < len(source):
        ch = source[i]
        if ch == "\\":
            out.append(source[i:i + 2])
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
            if source[i + 1:i + 2] == "]":  # `[]...]`: a literal ] first
                out.append("[]")
                i += 2
                continue
        elif ch == "(" and source[i + 1:i + 2] != "?":
            number += 1
            out.append("(?P<s>" if number == group else "(?:")
            i += 1
            continue
        out.append(ch)
        i += 1
    return "".join(out)


# `\d{8,10}` -> `\d\d{7,9}`: the same matches, but the pattern now starts with a character class,
# which the regex engine skips to in C instead of trying a match at every position (2x faster).
_LEADING_REPEAT = re.compile(r"^(\\[dw]|\[[^\]\\]+\])\{(\d+),(\d+)\}")


def _peel_leading_repeat(source: str) -> str:
    found = _LEADING_REPEAT.match(source)
    if found is None or int(found.group(2)) < 1:
        return source
    atom, low, high = found.group(1), int(found.group(2)), int(found.group(3))
    return atom + atom + "{" + str(low - 1) + "," + str(high - 1) + "}" + source[found.end():]


def plugin_rules() -> list[Rule]:
    classes = _plugin_classes()
    rules: list[Rule] = []
    for name in sorted(classes):
        cls = classes[name]
        denylist = getattr(cls, "denylist", None)
        if name in PLUGINS_LEFT_OUT:
            continue
        if name not in PLUGIN_SHAPES:
            raise RuleGenError(f"detect-secrets plugin {name} is new: add it to PLUGIN_SHAPES or PLUGINS_LEFT_OUT "
                               "in lib/security/rulegen.py")
        shapes = PLUGIN_SHAPES[name]
        if denylist is None or len(denylist) != len(shapes):
            raise RuleGenError(f"detect-secrets plugin {name} has {len(denylist or ())} patterns, "
                               f"PLUGIN_SHAPES lists {len(shapes)}: review them in lib/security/rulegen.py")
        for pattern, shape in zip(denylist, shapes, strict=True):
            if shape.skip:
                continue
            source = _capture_to_secret(_scoped(pattern), shape.group)
            if shape.bounded:
                # A scanned rule must start with its own first character class for the engine to
                # scan quickly; the redactor checks the character before a scanned match instead.
                head = "" if shape.lead == "scan" else _B
                if shape.lead == "scan":
                    source = _peel_leading_repeat(source)
                source = head + "(?:" + source + ")" + r"(?![A-Za-z0-9])"
            rules.append(Rule(shape.kind, source, f"detect-secrets {detect_secrets_version()} {name}",
                              shape.anchors, shape.lead))
    return rules


def all_rules() -> list[Rule]:
    rules = baton_rules(keyword_denylist()) + plugin_rules()
    for rule in rules:
        compiled = re.compile(rule.pattern)
        if set(compiled.groupindex) - {"s"}:
            raise RuleGenError(f"rule {rule.kind}: only the group `s` may be named")
        if compiled.fullmatch(""):
            raise RuleGenError(f"rule {rule.kind} matches the empty string")
        if rule.lead not in LEADS or (rule.lead == "scan") == bool(rule.anchors):
            raise RuleGenError(f"rule {rule.kind}: anchors are required unless lead is 'scan'")
        if any(a != a.lower() for a in rule.anchors):
            raise RuleGenError(f"rule {rule.kind}: anchors must be lower case")
    return rules


def search_tables(rules: list[Rule]) -> tuple[tuple[str, ...], dict[str, list[tuple[int, int, dict[str, tuple[int, ...]]]]]]:
    """The literals searched for, and per literal: [(offset, length, {anchor there: rule numbers})]."""
    by_anchor: dict[str, list[int]] = {}
    for index, rule in enumerate(rules):
        for anchor in rule.anchors:
            by_anchor.setdefault(anchor, []).append(index)
    wanted = {next((stem for stem in STEMS if stem in a), a) for a in by_anchor}
    search = tuple(sorted(a for a in wanted if not any(b != a and b in a for b in wanted)))
    wakes: dict[str, list[tuple[int, int, dict[str, tuple[int, ...]]]]] = {}
    for found in search:
        table: dict[tuple[int, int], dict[str, tuple[int, ...]]] = {}
        for anchor, indexes in sorted(by_anchor.items()):
            offset = anchor.find(found)
            while offset >= 0:
                slot = table.setdefault((offset, len(anchor)), {})
                slot[anchor] = tuple(sorted(set(slot.get(anchor, ()) + tuple(indexes))))
                offset = anchor.find(found, offset + 1)
        wakes[found] = [(offset, length, slot) for (offset, length), slot in sorted(table.items())]
    covered = {a for entries in wakes.values() for _o, _l, slot in entries for a in slot}
    if covered != set(by_anchor):
        raise RuleGenError(f"anchors no search finds: {sorted(set(by_anchor) - covered)}")
    return search, wakes


def render() -> str:
    """The source of lib/security/rules.py."""
    rules = all_rules()
    search, wakes = search_tables(rules)
    lines = [
        '"""GENERATED by scripts/build_redact_rules.py from lib/security/rulegen.py: do not edit.',
        "",
        f"The redactor's rules: baton's own, then the regex plugins of detect-secrets {detect_secrets_version()}.",
        "Each rule is (kind, pattern, groups, secret, anchors, lead, source): group number `secret` is",
        "the secret (0: the whole match); the rule is tried where one of its lower-case `anchors`",
        "occurs, from where `lead` says (see lib/security/rulegen.py). Plain data, so the telemetry",
        "hook can import it (standard library only, Python 3.8).",
        '"""',
        "",
        "DETECT_SECRETS_VERSION = " + repr(detect_secrets_version()),
        "",
        "RULES = (",
    ]
    for rule in rules:
        compiled = re.compile(rule.pattern)
        secret = compiled.groupindex.get("s", 0)
        pattern = rule.pattern.replace("(?P<s>", "(")  # numbered, so rules can share one alternation
        lines.append(f"    ({rule.kind!r}, {pattern!r}, {compiled.groups}, {secret},")
        lines.append(f"     {rule.anchors!r}, {rule.lead!r},")
        lines.append(f"     {rule.source!r}),")
    lines.append(")")
    lines.append("")
    lines.append("SCANNED = " + repr(tuple(i for i, rule in enumerate(rules) if rule.lead == "scan")))
    lines.append("")
    lines.append("SEARCH = " + repr(search))
    lines.append("")
    lines.append("WAKES = {")
    for found in search:
        lines.append(f"    {found!r}: {wakes[found]!r},")
    lines.append("}")
    lines.append("")
    lines.append("LEFT_OUT = (")
    left_out = dict(PLUGINS_LEFT_OUT)
    for name, shapes in PLUGIN_SHAPES.items():
        for n, shape in enumerate(shapes, start=1):
            if shape.skip:
                left_out[f"{name} pattern {n}"] = shape.skip
    for name, why in sorted(left_out.items()):
        lines.append(f"    ({name!r}, {why!r}),")
    lines.append(")")
    return "\n".join(lines) + "\n"
