//! Pages from the web for the knowledge base: a public page, or every page a `sitemap.xml` lists,
//! fetched by the server with a size limit, timeouts and at most five redirects, and never from a
//! loopback, private, link-local or otherwise non-public address unless the operator allows it
//! (`FRONTDESK_IMPORT_PRIVATE_URLS`): each hop's host is resolved, every address it has is
//! checked, and the request goes to the checked address (a name cannot answer differently
//! between the check and the connection). A page's main text is found as a browser's reader view
//! finds it (dom_smoothie, a port of readability.js), as Markdown, so its headings split it into
//! passages; a sitemap's addresses are read with quick-xml.

use std::{
    net::{IpAddr, SocketAddr},
    time::Duration,
};

use reqwest::{redirect::Policy, Url};

/// The largest page (or sitemap) read, in bytes.
pub const PAGE_MAX_BYTES: usize = 2 << 20;
const REDIRECTS: usize = 5;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const PAGE_TIMEOUT: Duration = Duration::from_secs(15);

/// What a fetch brought back.
pub struct Fetched {
    /// Where it came from, after redirects.
    pub url: Url,
    pub content_type: String,
    pub body: Vec<u8>,
}

impl Fetched {
    /// A sitemap (or a sitemap index) rather than a page.
    pub fn is_sitemap(&self) -> bool {
        let start = String::from_utf8_lossy(&self.body[..self.body.len().min(512)]).to_ascii_lowercase();
        self.content_type.contains("xml") || start.contains("<urlset") || start.contains("<sitemapindex")
    }
}

/// The server's way to the web.
#[derive(Debug, Clone, Copy)]
pub struct Web {
    /// Fetch from loopback, private and link-local addresses too (a shop's intranet, tests).
    pub allow_private: bool,
}

impl Web {
    /// The body at `address`, following redirects, each hop checked; the error is a sentence.
    pub async fn get(&self, address: &str) -> Result<Fetched, String> {
        let mut url = Url::parse(address).map_err(|_| format!("{address} is not a web address"))?;
        for _ in 0..=REDIRECTS {
            if !matches!(url.scheme(), "http" | "https") {
                return Err(format!("{url}: only http and https addresses are fetched"));
            }
            let host = url.host_str().ok_or_else(|| format!("{url} names no host"))?.to_string();
            let port = url.port_or_known_default().unwrap_or(80);
            // An address in the URL is used as it is (IPv6 ones come in brackets); a name is resolved.
            let addresses: Vec<SocketAddr> = match host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>()
            {
                Ok(ip) => vec![SocketAddr::new(ip, port)],
                Err(_) => tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::lookup_host((host.as_str(), port)))
                    .await
                    .map_err(|_| format!("{host} did not resolve in time"))?
                    .map_err(|_| format!("{host} does not resolve"))?
                    .collect(),
            };
            let Some(first) = addresses.first().copied() else { return Err(format!("{host} does not resolve")) };
            if !self.allow_private {
                if let Some(private) = addresses.iter().find(|a| !is_public(a.ip())) {
                    return Err(format!(
                        "{host} is at {}, a private or local address: it is not fetched (an operator may allow \
                         it with FRONTDESK_IMPORT_PRIVATE_URLS)",
                        private.ip()
                    ));
                }
            }
            let client = reqwest::Client::builder()
                .redirect(Policy::none())
                .connect_timeout(CONNECT_TIMEOUT)
                .timeout(PAGE_TIMEOUT)
                .resolve(&host, first)
                .user_agent(concat!("Frontdesk/", env!("CARGO_PKG_VERSION"), " (knowledge import)"))
                .build()
                .map_err(|e| format!("the fetcher could not start: {e}"))?;
            let mut response = client.get(url.clone()).send().await.map_err(|e| describe(&url, &e))?;
            let status = response.status();
            if status.is_redirection() {
                let location = response
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .ok_or_else(|| format!("{url} redirects nowhere"))?;
                url = url.join(location).map_err(|_| format!("{url} redirects to a bad address"))?;
                continue;
            }
            if !status.is_success() {
                return Err(format!("{url} answered {status}"));
            }
            let content_type = response
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|c| c.to_str().ok())
                .unwrap_or_default()
                .to_ascii_lowercase();
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(|e| describe(&url, &e))? {
                if body.len() + chunk.len() > PAGE_MAX_BYTES {
                    return Err(format!("{url} is over {} MiB", PAGE_MAX_BYTES >> 20));
                }
                body.extend_from_slice(&chunk);
            }
            return Ok(Fetched { url, content_type, body });
        }
        Err(format!("{address} redirects more than {REDIRECTS} times"))
    }
}

fn describe(url: &Url, error: &reqwest::Error) -> String {
    if error.is_timeout() {
        format!("{url} did not answer in time")
    } else {
        format!("{url} could not be fetched")
    }
}

/// An address anyone on the internet can reach: not loopback, private, link-local, shared
/// (CGNAT), unspecified, multicast, broadcast, documentation or reserved (nor an IPv6 form of one).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && v4.octets()[2] == 0)
                || (a == 198 && (18..20).contains(&b))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8
                || first == 0x0064 && v6.segments()[1] == 0xff9b)
        }
    }
}

/// The addresses a sitemap lists: its pages, and (in a sitemap index) the sitemaps it names.
pub fn sitemap_entries(xml: &[u8]) -> Result<(Vec<String>, Vec<String>), String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut pages = Vec::new();
    let mut sitemaps = Vec::new();
    let mut in_sitemap = false;
    // The address being read: its text and entity references come as events of their own.
    let mut loc: Option<String> = None;
    let mut buf = Vec::new();
    let bad = |_| "the sitemap has a bad address".to_string();
    loop {
        match reader.read_event_into(&mut buf).map_err(|e| format!("the sitemap is not valid XML: {e}"))? {
            Event::Start(tag) => match tag.local_name().as_ref() {
                b"sitemap" => in_sitemap = true,
                b"loc" => loc = Some(String::new()),
                _ => {}
            },
            Event::End(tag) => match tag.local_name().as_ref() {
                b"sitemap" => in_sitemap = false,
                b"loc" => {
                    let address = loc.take().unwrap_or_default().trim().to_string();
                    if !address.is_empty() {
                        if in_sitemap {
                            sitemaps.push(address)
                        } else {
                            pages.push(address)
                        }
                    }
                }
                _ => {}
            },
            Event::Text(text) => {
                if let Some(loc) = loc.as_mut() {
                    loc.push_str(&text.decode().map_err(|_| "the sitemap is not valid UTF-8".to_string())?);
                }
            }
            Event::GeneralRef(reference) => {
                if let Some(loc) = loc.as_mut() {
                    match reference.resolve_char_ref().map_err(|_| "the sitemap has a bad character".to_string())? {
                        Some(c) => loc.push(c),
                        None => {
                            let name = reference.decode().map_err(|_| "the sitemap is not valid UTF-8".to_string())?;
                            loc.push_str(quick_xml::escape::resolve_predefined_entity(&name).ok_or_else(|| bad(()))?);
                        }
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok((pages, sitemaps))
}

/// A page's title and main text (Markdown: headings kept), as a reader view shows it.
pub fn main_text(html: &str, url: &Url) -> Result<(String, String), String> {
    let config = dom_smoothie::Config { text_mode: dom_smoothie::TextMode::Markdown, ..Default::default() };
    let mut readability = dom_smoothie::Readability::new(html, Some(url.as_str()), Some(config))
        .map_err(|_| format!("{url} could not be read as a page"))?;
    let article = readability.parse().map_err(|_| format!("{url} has no main text to import"))?;
    let text = article.text_content.trim().to_string();
    if text.is_empty() {
        return Err(format!("{url} has no main text to import"));
    }
    let title = article.title.trim().to_string();
    Ok((title, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_addresses_anyone_can_reach_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn a_sitemap_lists_its_pages_and_an_index_its_sitemaps() {
        let urlset = br#"<?xml version="1.0" encoding="UTF-8"?>
            <urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
              <url><loc>https://shop.example/returns</loc><lastmod>2026-01-01</lastmod></url>
              <url><loc> https://shop.example/shipping?a=1&amp;b=2 </loc></url>
            </urlset>"#;
        let (pages, sitemaps) = sitemap_entries(urlset).unwrap();
        assert_eq!(pages, ["https://shop.example/returns", "https://shop.example/shipping?a=1&b=2"]);
        assert!(sitemaps.is_empty());
        let index = br#"<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
              <sitemap><loc>https://shop.example/pages.xml</loc></sitemap></sitemapindex>"#;
        assert_eq!(sitemap_entries(index).unwrap(), (vec![], vec!["https://shop.example/pages.xml".to_string()]));
        assert!(sitemap_entries(b"<urlset><url><loc>x</url>").is_err());
    }
}
