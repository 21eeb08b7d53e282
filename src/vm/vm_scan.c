/* vm: the source scan that refuses the vararg token '...'.
 *
 * One Lua instruction can copy a whole vararg list (up to Lua's stack limit
 * of 1,000,000 values) into a table or a call: {...}, f(...). Nothing in the
 * sandbox can meter that copy (table slots and stack slots are not
 * creations), so a contract could reach the node-protection hard ceiling in
 * a few thousand instructions. Every other bulk copy starts with a library
 * function that is metered per value (table.unpack, string.byte …), and
 * without '...' a Lua function cannot keep such a list to copy it again.
 *
 * The scan follows Lua 5.4's lexer (llex.c) token by token, far enough to
 * know what is code and what is a string, a comment or a numeral, and to
 * count lines the same way. On every source Lua accepts it sees exactly the
 * tokens Lua sees; where Lua would reject the source (an unfinished string, a
 * malformed numeral …) the scan may stop or go on: the source is refused
 * either way, and the outcome is still a function of the source alone. */
#include "vm/vm_internal.h"

static bool is_newline(char c)
{
	return c == '\n' || c == '\r';
}

/* Lua's lisspace in the "C" locale. */
static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_xdigit(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Identifier characters. Bytes >= 0x80 count too: stock Lua rejects them
 * outside strings, a Lua built with LUA_UCID takes them as letters, and
 * taking them as letters here is right for both (a rejected source needs
 * no precise scan). */
static bool is_ident(char c)
{
	unsigned char u = (unsigned char)c;
	return is_digit(c) || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || u == '_' ||
	       u >= 0x80;
}

struct scan {
	const char *s;
	size_t n;
	size_t i;
	uint32_t line;
};

/* At a newline: skips it, and a following newline of the other kind
 * ("\r\n", "\n\r"), as one line (llex.c inclinenumber). */
static void newline(struct scan *sc)
{
	char c = sc->s[sc->i++];
	if (sc->i < sc->n && is_newline(sc->s[sc->i]) && sc->s[sc->i] != c)
		sc->i++;
	if (sc->line < UINT32_MAX)
		sc->line++;
}

/* At '[' (or ']'): the level of a long bracket "[" "="* "[" starting here,
 * as 0, 1, 2 … equals signs, or -1 when it is not one. */
static long bracket_level(const struct scan *sc)
{
	char b = sc->s[sc->i];
	size_t j = sc->i + 1;
	while (j < sc->n && sc->s[j] == '=')
		j++;
	if (j < sc->n && sc->s[j] == b)
		return (long)(j - sc->i - 1);
	return -1;
}

/* At the opening bracket of a long string or comment of the given level:
 * skips to after its closing bracket. Returns false at the end of the
 * source (unfinished: Lua refuses it). */
static bool skip_long(struct scan *sc, long level)
{
	sc->i += (size_t)level + 2;
	while (sc->i < sc->n) {
		char c = sc->s[sc->i];
		if (is_newline(c)) {
			newline(sc);
		} else if (c == ']' && bracket_level(sc) == level) {
			sc->i += (size_t)level + 2;
			return true;
		} else {
			sc->i++;
		}
	}
	return false;
}

/* At the opening quote of a short string: skips to after the closing one.
 * Returns false where Lua reports an unfinished string. */
static bool skip_short(struct scan *sc)
{
	char q = sc->s[sc->i++];
	while (sc->i < sc->n) {
		char c = sc->s[sc->i];
		if (c == q) {
			sc->i++;
			return true;
		}
		if (is_newline(c))
			return false;
		if (c != '\\') {
			sc->i++;
			continue;
		}
		if (++sc->i >= sc->n)
			return false;
		c = sc->s[sc->i];
		if (is_newline(c)) { /* an escaped line break is part of the string */
			newline(sc);
		} else if (c == 'z') { /* \z skips the white space after it */
			sc->i++;
			while (sc->i < sc->n && is_space(sc->s[sc->i])) {
				if (is_newline(sc->s[sc->i]))
					newline(sc);
				else
					sc->i++;
			}
		} else {
			/* One escaped character; the rest of \x.., \u{..} and
			 * \ddd is digits and braces, which need no care. */
			sc->i++;
		}
	}
	return false;
}

/* At a digit: skips a numeral as llex.c read_numeral does, dots included
 * (so "1...2" is one malformed numeral to Lua, never a '...'). */
static void skip_numeral(struct scan *sc)
{
	const char *expo = "Ee";
	char first = sc->s[sc->i++];
	if (first == '0' && sc->i < sc->n && (sc->s[sc->i] == 'x' || sc->s[sc->i] == 'X')) {
		sc->i++;
		expo = "Pp";
	}
	while (sc->i < sc->n) {
		char c = sc->s[sc->i];
		if (c == expo[0] || c == expo[1]) {
			sc->i++;
			if (sc->i < sc->n && (sc->s[sc->i] == '+' || sc->s[sc->i] == '-'))
				sc->i++;
		} else if (is_xdigit(c) || c == '.') {
			sc->i++;
		} else {
			break;
		}
	}
}

uint32_t ds__vm_find_vararg(const char *src, size_t len)
{
	struct scan sc = {src, len, 0, 1};
	while (sc.i < sc.n) {
		char c = sc.s[sc.i];
		if (is_newline(c)) {
			newline(&sc);
		} else if (c == '-' && sc.i + 1 < sc.n && sc.s[sc.i + 1] == '-') {
			sc.i += 2;
			long level = sc.i < sc.n && sc.s[sc.i] == '[' ? bracket_level(&sc) : -1;
			if (level >= 0) {
				if (!skip_long(&sc, level))
					return 0;
			} else { /* to the end of the line, left for the loop */
				while (sc.i < sc.n && !is_newline(sc.s[sc.i]))
					sc.i++;
			}
		} else if (c == '[') {
			long level = bracket_level(&sc);
			if (level < 0)
				sc.i++;
			else if (!skip_long(&sc, level))
				return 0;
		} else if (c == '"' || c == '\'') {
			if (!skip_short(&sc))
				return 0;
		} else if (c == '.') {
			if (sc.i + 2 < sc.n && sc.s[sc.i + 1] == '.' && sc.s[sc.i + 2] == '.')
				return sc.line;
			if (sc.i + 1 < sc.n && sc.s[sc.i + 1] == '.')
				sc.i += 2; /* '..', concatenation */
			else if (++sc.i < sc.n && is_digit(sc.s[sc.i]))
				skip_numeral(&sc); /* '.5': from the digit, as llex.c */
		} else if (is_digit(c)) {
			skip_numeral(&sc);
		} else if (is_ident(c)) {
			while (sc.i < sc.n && is_ident(sc.s[sc.i]))
				sc.i++;
		} else {
			sc.i++;
		}
	}
	return 0;
}

void ds__vm_refuse_varargs(lua_State *L, const char *src, size_t len, const char *what)
{
	uint32_t line = ds__vm_find_vararg(src, len);
	if (line)
		ds__vm_fatalf(L, DS_VM_FORBIDDEN,
			      "%s uses '...' (varargs), which the sandbox refuses: line %lu", what,
			      (unsigned long)line);
}
