#!/usr/bin/env python3
"""Writes the hand-made seed inputs of every fuzz target into fuzz/corpus/<target>/.

Seeds: the spec listings (xsd/examples/*.xml), the Markdown rendering's notice forms,
error forms with only the code or only the condition, and small malformed cases for
each layer. Run once after changing the input layout of a target, then minimise with
`cargo +nightly fuzz cmin TARGET` (scripts/fuzz.sh does not regenerate them).
"""
import pathlib
import struct

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"
LISTINGS = sorted((ROOT / "xsd" / "examples").glob("*.xml"))

PASS = "jabber:iq:pass"
FROM = "user@jabber.org/resource"


def iq(kind, inner, ident="f1", sender=FROM, to="pass.jabber.org", extra=""):
    return (f"<iq type='{kind}' id='{ident}' from='{sender}' to='{to}'>"
            f"<query xmlns='{PASS}'>{inner}</query>{extra}</iq>")


# Valid and nearly valid PASS stanzas beyond the listings.
STANZAS = {
    "register-oneshot": iq("set", "<expire>60</expire><oneshot/>"),
    "register-forever": iq("set", ""),
    "register-zero": iq("set", "<expire>0</expire>"),
    "register-huge": iq("set", "<expire>18446744073709551615</expire>"),
    "register-leading-zeros": iq("set", "<expire> 0060 </expire>"),
    "close-v6": iq("set", "<close/><proxy port='40000'>2001:db8::1</proxy>"),
    "close-no-proxy": iq("set", "<close/>"),
    "close-no-port": iq("set", "<close/><proxy>1.2.3.4</proxy>"),
    "expire-notice-rendered": iq("set", "<expire/>", extra="<proxy port='43253'>1.2.3.4</proxy>"),
    "oneshot-notice-rendered": iq("set", "<oneshot/><proxy port='43253'>1.2.3.4</proxy>"),
    "deny-code-only": iq("error", "<client port='1'>4.3.2.1</client>",
                         extra="<error code='401'/>"),
    "deny-condition-only": iq("error", "", extra="<error type='cancel'><not-acceptable "
                              "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text "
                              "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>no &amp; never"
                              "</text></error>"),
    "registered-two": "<iq type='result' id='r' from='pass.jabber.org'><query xmlns='jabber:iq:pass'>"
                      "<server port='40001'>1.2.3.4</server><server port='40001'>2001:db8::1</server>"
                      "</query></iq>",
    "client-ip-v6": iq("result", "<client>::1</client>"),
    "bad-port": iq("set", "<close/><proxy port='65536'>1.2.3.4</proxy>"),
    "port-zero": iq("set", "<close/><proxy port='0'>1.2.3.4</proxy>"),
    "duplicate-child": iq("set", "<expire>1</expire><expire>2</expire>"),
    "unknown-child": iq("set", "<foo/>"),
    "text-in-query": iq("set", "hello"),
    "disco": f"<iq type='get' id='d1' from='{FROM}' to='pass.jabber.org'><query "
             "xmlns='http://jabber.org/protocol/disco#info'/></iq>",
    "ping": f"<iq type='get' id='p1' from='{FROM}' to='pass.jabber.org'><ping xmlns='urn:xmpp:ping'/></iq>",
    "other-namespace": f"<iq type='get' id='v1' from='{FROM}'><query xmlns='jabber:iq:version'/></iq>",
    "no-payload": f"<iq type='set' id='n1' from='{FROM}'/>",
    "two-payloads": f"<iq type='set' id='n2' from='{FROM}'><a xmlns='x'/><b xmlns='y'/></iq>",
    "bad-type": f"<iq type='put' id='t1' from='{FROM}'><query xmlns='{PASS}'/></iq>",
    "bad-from": "<iq type='set' id='j1' from='@bad/'><query xmlns='jabber:iq:pass'/></iq>",
    "no-id": f"<iq type='set' from='{FROM}'><query xmlns='{PASS}'/></iq>",
    "message": f"<message from='{FROM}' to='pass.jabber.org'><body>hi</body></message>",
    "component-ns": f"<iq xmlns='jabber:component:accept' type='set' id='c1' from='{FROM}'>"
                    f"<query xmlns='{PASS}'><expire>5</expire></query></iq>",
    "wrong-ns-iq": f"<iq xmlns='urn:x' type='get' id='w1' from='{FROM}'><ping xmlns='urn:xmpp:ping'/></iq>",
}

# Small malformed or forbidden XML, one construct each.
MALFORMED = {
    "doctype": "<!DOCTYPE iq [<!ENTITY x 'y'>]><iq/>",
    "pi": "<?foo bar?><iq/>",
    "comment": "<iq><!-- c --></iq>",
    "unclosed": "<iq><query>",
    "mismatched": "<iq></query>",
    "unknown-entity": "<iq>&nbsp;</iq>",
    "nul-charref": "<iq>&#x0;</iq>",
    "big-charref": "<iq>&#x110000;</iq>",
    "cdata": "<iq><![CDATA[a]]>b]]&gt;<![CDATA[]]></iq>",
    "cdata-unterminated": "<iq><![CDATA[a]]</iq>",
    "dup-attr": "<iq a='1' a='2'/>",
    "undeclared-prefix": "<p:iq/>",
    "xmlns-xml": "<iq xmlns:xml='urn:x'/>",
    "xml-lang": "<iq xml:lang='en' xmlns:a='urn:a' a:b='&lt;&amp;&gt;&quot;&apos;'/>",
    "lt-in-attr": "<iq a='<'/>",
    "two-roots": "<a/><b/>",
    "text-after": "<a/>x",
    "decl": "<?xml version='1.0' encoding='UTF-8'?>\n<iq/>",
    "decl-late": " <?xml version='1.0'?><iq/>",
    "bom": "\ufeff<iq/>",
    "bad-utf8": b"<iq>\xff\xfe</iq>",
    "deep": "<a>" * 33 + "</a>" * 33,
    "many-attrs": "<a " + " ".join(f"a{i}='{i}'" for i in range(33)) + "/>",
    "empty": "",
    "whitespace": " \t\r\n",
    "crlf": "<a>\r\n\r</a>",
    "prefixed-default": "<s:a xmlns:s='urn:s' xmlns='urn:d'><b/><s:c/><d xmlns=''/></s:a>",
}

HEADER = ("<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' "
          "xmlns:stream='http://etherx.jabber.org/streams' from='pass.jabber.org' id='s1'>")
CLOSE = "</stream:stream>"


def data(s):
    return s if isinstance(s, bytes) else s.encode()


def write(target, name, content):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data(content))


def framed(body, cuts=()):
    """A stream_framer input: cut count, cut offsets (u16 LE), the stream."""
    return bytes([len(cuts)]) + b"".join(struct.pack("<H", c) for c in cuts) + data(body)


def main():
    listings = {p.stem: p.read_bytes() for p in LISTINGS}
    for name, text in listings.items():
        for target in ("xml_reader", "stanza_roundtrip"):
            write(target, "listing-" + name, text)
        write("service_stanzas", "listing-" + name, text)
    for name, text in STANZAS.items():
        for target in ("xml_reader", "stanza_roundtrip", "service_stanzas"):
            write(target, name, text)
    for name, text in MALFORMED.items():
        write("xml_reader", "malformed-" + name, text)

    # The service keeps state across NUL-separated stanzas: register, then close each
    # pool port (40000-40003) from the owner and from someone else.
    closes = [iq("set", f"<close/><proxy port='{p}'>1.2.3.4</proxy>", ident=f"c{p}")
              for p in range(40000, 40004)]
    write("service_stanzas", "register-then-close",
          "\0".join([STANZAS["register-oneshot"]] + closes))
    write("service_stanzas", "register-expire-then-close",
          "\0".join([iq("set", "<expire>1</expire>")] * 2 + closes))
    write("service_stanzas", "close-by-stranger",
          "\0".join([STANZAS["register-forever"]]
                    + [c.replace(FROM, "eve@evil.example/x") for c in closes]))

    all_listings = b"".join(v for k, v in listings.items() if not k.endswith("14-deny-connection"))
    stream = HEADER.encode() + all_listings + CLOSE.encode()
    write("stream_framer", "listings", framed(stream))
    write("stream_framer", "listings-cut", framed(stream, (1, 7, 60, 200, 201, 500, 1500)))
    write("stream_framer", "header-only", framed(HEADER))
    write("stream_framer", "header-cut", framed(HEADER, (5, 20, 21, 22)))
    write("stream_framer", "verbatim-deny", framed(HEADER + listings["14-deny-connection"].decode()))
    write("stream_framer", "stream-error",
          framed(HEADER + "<stream:error><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
                 "</stream:error>" + CLOSE))
    write("stream_framer", "handshake", framed(HEADER + "<handshake>abc</handshake>" + CLOSE, (30, 90)))
    write("stream_framer", "cdata-quotes",
          framed(HEADER + "<message a='>' b=\"/>\"><body><![CDATA[</message>]]></body></message>"
                 + "<iq/>  <iq></iq>", (100, 101, 102, 130)))
    write("stream_framer", "no-header", framed("<iq/>"))
    write("stream_framer", "comment", framed(HEADER + "<!-- x --><iq/>"))
    write("stream_framer", "pi", framed(HEADER + "<?x?><iq/>"))
    write("stream_framer", "after-close", framed(HEADER + CLOSE + "<iq/>"))
    write("stream_framer", "bad-close", framed(HEADER + "</stream:foo>"))
    write("stream_framer", "text-between", framed(HEADER + "x<iq/>"))


if __name__ == "__main__":
    main()
