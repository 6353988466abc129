/* Option parsing: every value check, the usage errors, and the defaults. */
#include "check.h"

#include "options.h"

struct opt_case {
	const char *args[6];
	enum pdl_parse_result want;
	const char *err_has; /* substring of the message on error */
};

static const struct opt_case cases[] = {
    {{"-j", "8"}, PDL_PARSE_OK, NULL},
    {{"-j", "1"}, PDL_PARSE_OK, NULL},
    {{"-j", "1024"}, PDL_PARSE_OK, NULL},
    {{"-j", "0"}, PDL_PARSE_ERROR, "-j/--jobs"},
    {{"-j", "1025"}, PDL_PARSE_ERROR, "'1025'"},
    {{"-j", "5000"}, PDL_PARSE_ERROR, "'5000'"},
    {{"-j", "abc"}, PDL_PARSE_ERROR, "'abc'"},
    {{"-j", "8x"}, PDL_PARSE_ERROR, "'8x'"},
    {{"-j", "-3"}, PDL_PARSE_ERROR, "'-3'"},
    {{"--jobs=99999999999999999999"}, PDL_PARSE_ERROR, "--jobs"},
    {{"-j"}, PDL_PARSE_ERROR, "needs a value"},
    {{"--output-dir"}, PDL_PARSE_ERROR, "needs a value"},
    {{"--bogus"}, PDL_PARSE_ERROR, "unknown option '--bogus'"},
    {{"-Z"}, PDL_PARSE_ERROR, "unknown option '-Z'"},
    {{"-h"}, PDL_PARSE_HELP, NULL},
    {{"--version"}, PDL_PARSE_VERSION, NULL},
    {{"-j", "0", "-h"}, PDL_PARSE_ERROR, NULL},
    {{"--retries", "0"}, PDL_PARSE_OK, NULL},
    {{"--retries", "x"}, PDL_PARSE_ERROR, "--retries"},
    {{"--connect-timeout", "0.5"}, PDL_PARSE_OK, NULL},
    {{"--connect-timeout", "-1"}, PDL_PARSE_ERROR, NULL},
    {{"--timeout", "nan"}, PDL_PARSE_ERROR, NULL},
    {{"--stall-timeout", "0"}, PDL_PARSE_ERROR, NULL},
    {{"--max-filesize", "10M"}, PDL_PARSE_OK, NULL},
    {{"--max-filesize", "10Q"}, PDL_PARSE_ERROR, NULL},
    {{"--max-filesize", "0"}, PDL_PARSE_ERROR, NULL},
    {{"--limit-rate", "500K"}, PDL_PARSE_OK, NULL},
    {{"--limit-rate", "-5"}, PDL_PARSE_ERROR, NULL},
    {{"--shard", "1/4"}, PDL_PARSE_OK, NULL},
    {{"--shard", "4/4"}, PDL_PARSE_OK, NULL},
    {{"--shard", "0/4"}, PDL_PARSE_ERROR, "--shard"},
    {{"--shard", "5/4"}, PDL_PARSE_ERROR, NULL},
    {{"--shard", "1/0"}, PDL_PARSE_ERROR, NULL},
    {{"--shard", "/4"}, PDL_PARSE_ERROR, NULL},
    {{"--shard", "1/"}, PDL_PARSE_ERROR, NULL},
    {{"--shard", "2"}, PDL_PARSE_ERROR, NULL},
    {{"--max-per-host", "2"}, PDL_PARSE_OK, NULL},
    {{"--max-per-host", "0"}, PDL_PARSE_ERROR, NULL},
    {{"--progress", "bar"}, PDL_PARSE_OK, NULL},
    {{"--progress", "always"}, PDL_PARSE_ERROR, "--progress"},
    {{"--proto", "https"}, PDL_PARSE_OK, NULL},
    {{"--proto", "http,gopher"}, PDL_PARSE_ERROR, NULL},
    {{"--proto", ""}, PDL_PARSE_ERROR, NULL},
    {{"-H", "X-A: b"}, PDL_PARSE_OK, NULL},
    {{"-H", "no colon"}, PDL_PARSE_ERROR, "-H/--header"},
    {{"-H", "X-A: b\r\nX-Evil: 1"}, PDL_PARSE_ERROR, NULL},
    {{"-s", "--compare"}, PDL_PARSE_ERROR, "exclude"},
    {{"-c", "--overwrite"}, PDL_PARSE_ERROR, "exclude"},
    {{"-n", "--compare"}, PDL_PARSE_ERROR, "exclude"},
};

static int count_args(const char *const *a)
{
	int n = 0;
	while (n < 6 && a[n])
		n++;
	return n;
}

int main(void)
{
	char err[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct opt_case *c = &cases[i];
		char *argv[8] = {(char *)"pdl"};
		int argc = 1 + count_args(c->args);
		for (int j = 1; j < argc; j++)
			argv[j] = (char *)c->args[j - 1];
		struct pdl_options o;
		enum pdl_parse_result r =
		    pdl_options_parse(&o, argc, argv, err, sizeof(err));
		if (r != c->want)
			fprintf(stderr, "case %zu (%s %s): err '%s'\n", i,
				c->args[0], c->args[1] ? c->args[1] : "", err);
		CHECK_INT(r, c->want);
		if (c->err_has && !strstr(err, c->err_has)) {
			fprintf(stderr, "case %zu: '%s' lacks '%s'\n", i, err,
				c->err_has);
			CHECK(0);
		}
		pdl_options_finish(&o);
	}

	/* Defaults, and values landing in the right fields. */
	{
		char *argv[] = {(char *)"pdl", NULL};
		struct pdl_options o;
		CHECK_INT(pdl_options_parse(&o, 1, argv, err, sizeof(err)),
			  PDL_PARSE_OK);
		CHECK_INT(o.jobs, 8);
		CHECK_STR(o.output_dir, ".");
		CHECK_STR(o.proto, "http,https");
		CHECK_INT(o.max_redirs, 10);
		CHECK_INT(o.retries, 3);
		CHECK_INT(o.connect_timeout_ms, 10000);
		CHECK_INT(o.stall_timeout_s, 30);
		CHECK_INT(o.timeout_ms, 0);
		CHECK_INT(o.n_inputs, 0);
		CHECK_STR(o.user_agent, "pdl/" PDL_VERSION);
		pdl_options_finish(&o);
	}
	{
		char *argv[] = {(char *)"pdl",
				(char *)"-j",
				(char *)"3",
				(char *)"-o",
				(char *)"out",
				(char *)"-H",
				(char *)"A: 1",
				(char *)"--header=B: 2",
				(char *)"--shard",
				(char *)"2/5",
				(char *)"--limit-rate",
				(char *)"2M",
				(char *)"a.txt",
				(char *)"-",
				NULL};
		struct pdl_options o;
		CHECK_INT(pdl_options_parse(&o, 14, argv, err, sizeof(err)),
			  PDL_PARSE_OK);
		CHECK_INT(o.jobs, 3);
		CHECK_STR(o.output_dir, "out");
		CHECK_INT(o.n_headers, 2);
		CHECK_STR(o.headers[1], "B: 2");
		CHECK_INT(o.shard_k, 2);
		CHECK_INT(o.shard_n, 5);
		CHECK_INT(o.limit_rate, 2 * 1024 * 1024);
		CHECK_INT(o.n_inputs, 2);
		CHECK_STR(o.inputs[0], "a.txt");
		CHECK_STR(o.inputs[1], "-");
		pdl_options_finish(&o);
	}

	/* Sizes. */
	CHECK_INT(pdl_parse_size("0"), 0);
	CHECK_INT(pdl_parse_size("512"), 512);
	CHECK_INT(pdl_parse_size("100B"), 100);
	CHECK_INT(pdl_parse_size("1KB"), 1024);
	CHECK_INT(pdl_parse_size("1Bi"), -1);
	CHECK_INT(pdl_parse_size("1K"), 1024);
	CHECK_INT(pdl_parse_size("1.5k"), 1536);
	CHECK_INT(pdl_parse_size("2M"), 2 * 1024 * 1024);
	CHECK_INT(pdl_parse_size("2MiB"), 2 * 1024 * 1024);
	CHECK_INT(pdl_parse_size("1G"), 1024LL * 1024 * 1024);
	CHECK_INT(pdl_parse_size(""), -1);
	CHECK_INT(pdl_parse_size("K"), -1);
	CHECK_INT(pdl_parse_size("-1"), -1);
	CHECK_INT(pdl_parse_size("1T"), -1);
	CHECK_INT(pdl_parse_size("1e30"), -1);

	/* The help lists every long option the man page documents. */
	{
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);
		pdl_options_print_help(f);
		fclose(f);
		static const char *const must[] = {
		    "--jobs",	       "--sequential",	 "--compare",
		    "--output-dir",    "--continue",	 "--overwrite",
		    "--dry-run",       "--proto",	 "--retries",
		    "--json",	       "--max-per-host", "--limit-rate",
		    "--shard",	       "--progress",	 "--quiet",
		    "--stall-timeout", "--max-filesize", "--header"};
		for (size_t i = 0; i < sizeof(must) / sizeof(must[0]); i++)
			CHECK(strstr(buf, must[i]) != NULL);
		free(buf);
	}
	return check_done();
}
