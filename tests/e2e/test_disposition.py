"""End-to-end: --content-disposition naming against names already taken,
where the server's suggestion is the name the URL gives itself."""

import os
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import adversary  # noqa: E402
import harness  # noqa: E402

BODY = b"disposition body\n"


class Disposition(adversary.Adversarial):

    def disposition_url(self, name, suggested):
        value = 'attachment; filename="%s"' % suggested
        return self.url("/disposition/%s?value=%s" %
                        (name, urllib.parse.quote(value)))

    def existing(self, name):
        """out/name is there before the run, holding b"old\n"."""
        os.makedirs(self.box.out)
        with open(os.path.join(self.box.out, name), "wb") as f:
            f.write(b"old\n")
        self.outside = self.box.snapshot_outside()

    def test_suggesting_the_urls_own_numbered_name_keeps_the_number(self):
        # a.txt exists, so the URL's a.txt becomes a.1.txt; the server
        # suggesting a.txt again must not push it on to a.2.txt
        self.existing("a.txt")
        url = self.disposition_url("a.txt", "a.txt")
        res, _ = self.json_run([url], "--content-disposition", rc=0)
        r = self.by_url(res)[url]
        self.assertEqual(r["path"], os.path.join(self.box.out, "a.1.txt"))
        self.assert_files({"a.txt": b"old\n", "a.1.txt": BODY})

    def test_suggesting_the_urls_own_name_twice_in_one_run(self):
        url = self.disposition_url("b.txt", "b.txt")
        res, _ = self.json_run([url, url], "--content-disposition", "-j", "1",
                               rc=0)
        paths = sorted(os.path.relpath(o["path"], self.box.out)
                       for o in res.files())
        self.assertEqual(paths, ["b.1.txt", "b.txt"])
        self.assert_files({"b.txt": BODY, "b.1.txt": BODY})

    def test_another_suggested_name_is_still_used(self):
        self.existing("c.txt")
        url = self.disposition_url("c.txt", "d.txt")
        res, _ = self.json_run([url], "--content-disposition", rc=0)
        self.assert_files({"c.txt": b"old\n", "d.txt": BODY})


if __name__ == "__main__":
    harness.main()
