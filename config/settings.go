package config

import (
	"encoding"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/caarlos0/env/v11"
)

// The struct tags below drive loading, checking and printing, so a new field needs only its tags:
//
//	env:"NAME"         the canonical variable (caarlos0/env's tag); envDefault:"..." its default
//	alias:"A,B"        other names read after NAME, in this order
//	min:"x" max:"y"    inclusive bounds, written in the field's own syntax
//	oneof:"a,b"        the accepted values, matched in any case
//	expect:"..."       how to describe a valid value in a problem, instead of the type's wording
//	mask:"last4"       print only the last four characters

// setting is one variable Strata reads: a field of Config with an env tag.
type setting struct {
	key     string
	aliases []string
	index   []int // the field's path in Config, for reflect.Value.FieldByIndex
	field   reflect.StructField
}

// settingsOf lists the settings of a config struct in field order, nested structs included.
func settingsOf(t reflect.Type) []setting {
	var out []setting
	var walk func(t reflect.Type, prefix []int)
	walk = func(t reflect.Type, prefix []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			index := append(slices.Clone(prefix), i)
			key, _, _ := strings.Cut(f.Tag.Get("env"), ",")
			switch {
			case key == "-":
			case key == "" && f.Type.Kind() == reflect.Struct:
				walk(f.Type, index)
			case key != "":
				s := setting{key: key, index: index, field: f}
				if a := f.Tag.Get("alias"); a != "" {
					s.aliases = strings.Split(a, ",")
				}
				out = append(out, s)
			}
		}
	}
	walk(t, nil)
	return out
}

// names lists the variables read for s, highest precedence first.
func (s setting) names() []string {
	names := []string{LiteLLMPrefix + s.key, s.key}
	for _, a := range s.aliases {
		names = append(names, LiteLLMPrefix+a, a)
	}
	return names
}

// secret reports whether s holds a secret, whose value must never be shown.
func (s setting) secret() bool {
	return s.field.Type == reflect.TypeFor[Secret]()
}

// Variable describes one setting for documentation and diagnostics.
type Variable struct {
	// Name is the canonical name; LITELLM_<Name> is read before it.
	Name string
	// Aliases are the other names read, in order of precedence, each also with LITELLM_ first.
	Aliases []string
	// Default is the value used when the variable is unset, as it would be written; "" for none.
	Default string
	// Secret is true for values that are never printed.
	Secret bool
}

// Variables lists every setting Strata reads, in the order of the Config fields.
func Variables() []Variable {
	var out []Variable
	for _, s := range settingsOf(reflect.TypeFor[Config]()) {
		out = append(out, Variable{
			Name:    s.key,
			Aliases: s.aliases,
			Default: s.field.Tag.Get("envDefault"),
			Secret:  s.secret(),
		})
	}
	return out
}

// parsers are the parsers of the field types that need more than strconv, shared by the checks
// below and by caarlos0/env so that the two can never disagree.
func parsers() map[reflect.Type]env.ParserFunc {
	return map[reflect.Type]env.ParserFunc{
		reflect.TypeFor[float64]():       func(s string) (any, error) { return parseFloat(s) },
		reflect.TypeFor[int]():           func(s string) (any, error) { return strconv.Atoi(s) },
		reflect.TypeFor[bool]():          func(s string) (any, error) { return parseBool(s) },
		reflect.TypeFor[time.Duration](): func(s string) (any, error) { return parseDuration(s) },
	}
}

// parseFloat is strconv.ParseFloat without NaN and infinities.
func parseFloat(s string) (float64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, err
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, errors.New("not a finite number")
	}
	return f, nil
}

// parseBool accepts what pydantic (RD-Agent's settings) accepts: true/false, 1/0, yes/no, on/off,
// t/f, y/n, in any case.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "1", "t", "true", "y", "yes", "on":
		return true, nil
	case "0", "f", "false", "n", "no", "off":
		return false, nil
	}
	return false, errors.New("not a boolean")
}

// parseDuration accepts a number of seconds ("1", "0.5"), which is how RD-Agent writes
// RETRY_WAIT_SECONDS, or a Go duration ("30s", "1m30s").
func parseDuration(s string) (time.Duration, error) {
	if f, err := parseFloat(s); err == nil {
		d := f * float64(time.Second)
		if d > math.MaxInt64 || d < math.MinInt64 {
			return 0, errors.New("duration out of range")
		}
		return time.Duration(d), nil
	}
	return time.ParseDuration(s)
}

// check parses the value of s as the field's type and checks it against the field's bounds,
// recording a problem if it does not fit. The fields' conversions are left to caarlos0/env.
func (l *loader) check(s setting, raw string) {
	if s.field.Type == reflect.TypeFor[ModelMap]() {
		return // parsed in finish, once the reasoning effort its entries inherit is known
	}
	if s.field.Type == reflect.TypeFor[ModelLimits]() {
		// A structured setting says what is wrong in it, not only that it is.
		var m ModelLimits
		if err := m.UnmarshalText([]byte(raw)); err != nil {
			l.problem(s.key, "%v", err)
			return
		}
	}
	v, ok := parseAs(s.field.Type, raw)
	if ok {
		ok = inBounds(s.field, v)
	}
	if !ok {
		if s.secret() {
			l.problem(s.key, "is not %s", describe(s.field))
			return
		}
		l.problem(s.key, "%s is not %s", quote(raw), describe(s.field))
	}
}

// parseAs parses raw as a value of type t (or of *t's element), reporting whether it could.
func parseAs(t reflect.Type, raw string) (reflect.Value, bool) {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if p, ok := parsers()[t]; ok {
		v, err := p(raw)
		if err != nil {
			return reflect.Value{}, false
		}
		return reflect.ValueOf(v), true
	}
	if u, ok := reflect.New(t).Interface().(encoding.TextUnmarshaler); ok {
		if err := u.UnmarshalText([]byte(raw)); err != nil {
			return reflect.Value{}, false
		}
		return reflect.ValueOf(u).Elem(), true
	}
	return reflect.ValueOf(raw).Convert(t), true
}

// inBounds reports whether v satisfies the field's min, max and oneof tags.
func inBounds(f reflect.StructField, v reflect.Value) bool {
	if oneof := f.Tag.Get("oneof"); oneof != "" {
		return slices.Contains(strings.Split(oneof, ","), strings.ToLower(v.String()))
	}
	n, numeric := number(v)
	if !numeric {
		return true
	}
	if b, ok := f.Tag.Lookup("min"); ok && n < bound(f.Type, b) {
		return false
	}
	if b, ok := f.Tag.Lookup("max"); ok && n > bound(f.Type, b) {
		return false
	}
	return true
}

// bound parses a min or max tag in the syntax of the field's type.
func bound(t reflect.Type, tag string) float64 {
	v, ok := parseAs(t, tag)
	n, numeric := number(v)
	if !ok || !numeric {
		panic(fmt.Sprintf("config: bound %q does not parse as %s", tag, t))
	}
	return n
}

// number returns v as a float64 if it is a number.
func number(v reflect.Value) (float64, bool) {
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(v.Int()), true
	case reflect.Float32, reflect.Float64:
		return v.Float(), true
	}
	return 0, false
}

// describe says what a valid value of the field looks like, bounds included:
// "a number between 0 and 1", "a duration of at least 1s (such as 30s, 1m30s or 90)".
func describe(f reflect.StructField) string {
	if oneof := f.Tag.Get("oneof"); oneof != "" {
		return "one of " + strings.ReplaceAll(oneof, ",", ", ")
	}
	t := f.Type
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	noun, example := "valid", ""
	switch {
	case t == reflect.TypeFor[time.Duration]():
		noun, example = "a duration", " (such as 30s, 1m30s, or 90 for seconds)"
	case t.Kind() == reflect.Bool:
		noun = "true or false"
	case t.Kind() == reflect.Int:
		noun = "a whole number"
	case t.Kind() == reflect.Float64:
		noun = "a number"
	}
	if e := f.Tag.Get("expect"); e != "" {
		noun, example = e, ""
	}
	lo, hasLo := f.Tag.Lookup("min")
	hi, hasHi := f.Tag.Lookup("max")
	switch {
	case hasLo && hasHi:
		noun += " between " + lo + " and " + hi
	case hasLo:
		noun += " of at least " + lo
	case hasHi:
		noun += " of at most " + hi
	}
	return noun + example
}

// quote quotes a value for a message, shortened if it is long.
func quote(s string) string {
	const limit = 64
	if utf8.RuneCountInString(s) > limit {
		s = string([]rune(s)[:limit]) + "…"
	}
	return strconv.Quote(s)
}
