/* glidein's own PCRE2 oracle for scripts/interop/pcre2-diff.mjs: for each input line
 * "PATTERN_HEX FLAGS SUBJECT_HEX" (FLAGS: any of i U, or -), compile PATTERN with the options
 * HTCondor's MapFile uses (8-bit, no UTF; CASELESS for i, UNGREEDY for U), match SUBJECT
 * unanchored from offset 0 and print one line: "E <code>" (does not compile), "N" (no match) or
 * "M <rc> <start>,<end> ..." (the ovector pairs PCRE2 set; -1,-1 for an unset group), or
 * "X <rc>" for a match error (a limit hit), which HTCondor takes as no match. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t unhex(const char *hex, unsigned char *out) {
  size_t n = strlen(hex) / 2;
  for (size_t i = 0; i < n; i++) sscanf(hex + 2 * i, "%2hhx", &out[i]);
  return n;
}

int main(void) {
  static char line[1 << 16];
  static unsigned char pat[1 << 15], subj[1 << 15];
  while (fgets(line, sizeof line, stdin)) {
    char *p = strtok(line, " \n"), *f = strtok(NULL, " \n"), *s = strtok(NULL, " \n");
    if (!p || !f) { puts("?"); fflush(stdout); continue; }
    size_t plen = strcmp(p, "-") == 0 ? 0 : unhex(p, pat);
    size_t slen = (!s || strcmp(s, "-") == 0) ? 0 : unhex(s, subj);
    uint32_t opts = 0;
    if (strchr(f, 'i')) opts |= PCRE2_CASELESS;
    if (strchr(f, 'U')) opts |= PCRE2_UNGREEDY;
    int err; PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile(pat, plen, opts, &err, &off, NULL);
    if (!re) { printf("E %d\n", err); fflush(stdout); continue; }
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    int rc = pcre2_match(re, subj, slen, 0, 0, md, NULL);
    if (rc == PCRE2_ERROR_NOMATCH) { printf("N\n"); }
    else if (rc <= 0) { printf("X %d\n", rc); }
    else {
      PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
      printf("M %d", rc);
      for (int i = 0; i < rc; i++) {
        if (ov[2 * i] == PCRE2_UNSET) printf(" -1,-1");
        else printf(" %zu,%zu", (size_t)ov[2 * i], (size_t)ov[2 * i + 1]);
      }
      printf("\n");
    }
    fflush(stdout);
    pcre2_match_data_free(md);
    pcre2_code_free(re);
  }
  return 0;
}
