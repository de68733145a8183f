# The MD5s a vendor download feed lists for one file: argv[1] the file name, argv[2] the feed,
# argv[3:] the vendor's hosts. Run by the install script (which installs python3 with the runtime).
# Only an entry whose URL is https on one of those hosts, on the default port, whose last path
# segment is exactly the file name, counts: not a substring, not another host's copy.
import json
import re
import sys
from urllib.parse import urlsplit


def listed(entries, name, hosts):
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        url, md5 = entry.get("zipUrl"), entry.get("md5")
        if not isinstance(url, str) or not isinstance(md5, str) or not re.fullmatch("[0-9a-fA-F]{32}", md5):
            continue
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            continue
        if parts.scheme != "https" or parts.hostname not in hosts or port not in (None, 443):
            continue
        if "@" in parts.netloc or parts.query or parts.fragment or parts.path.rsplit("/", 1)[-1] != name:
            continue
        yield md5.lower()


def main():
    name, path, hosts = sys.argv[1], sys.argv[2], set(sys.argv[3:])
    try:
        with open(path, encoding="utf-8") as feed:
            text = feed.read().strip()
        wrapped = re.fullmatch(r"downloads\((.*)\)\s*;?", text, re.S)  # older copies: JSONP
        entries = json.loads(wrapped.group(1) if wrapped else text)
    except (OSError, ValueError, RecursionError) as problem:
        sys.exit("not a JSON download feed: " + type(problem).__name__)
    if not isinstance(entries, list):
        sys.exit("not a JSON download feed: no list of downloads")
    for md5 in sorted(set(listed(entries, name, hosts))):
        print(md5)


main()
