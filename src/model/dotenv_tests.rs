use super::*;
use std::collections::HashMap;

fn no_env(_: &str) -> Option<String> {
    None
}

fn map(pairs: &[(&str, &str)]) -> IndexMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn sorted(m: &IndexMap<String, String>) -> Vec<(String, String)> {
    let mut v: Vec<_> = m.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    v.sort();
    v
}

/// Asserts the whole result, not only some keys.
fn assert_parses(src: &str, env: &dyn Fn(&str) -> Option<String>, expected: &[(&str, &str)]) {
    let got = parse(src, env).unwrap_or_else(|e| panic!("{src:?}: {e}"));
    assert_eq!(sorted(&got), sorted(&map(expected)), "{src:?}");
}

fn parse_one(src: &str, key: &str) -> String {
    let got = parse(src, &no_env).unwrap_or_else(|e| panic!("{src:?}: {e}"));
    got.get(key)
        .unwrap_or_else(|| panic!("{src:?}: no key {key:?} in {got:?}"))
        .clone()
}

/// The fixtures of compose-go's `dotenv/fixtures`, inlined, with the results its Go tests
/// expect. `env` is the environment the Go test sets up.
struct Fixture {
    name: &'static str,
    content: &'static str,
    env: &'static [(&'static str, &'static str)],
    expected: Result<&'static [(&'static str, &'static str)], (usize, &'static str)>,
}

const PLAIN: &[(&str, &str)] = &[
    ("OPTION_A", "1"),
    ("OPTION_B", "2"),
    ("OPTION_C", "3"),
    ("OPTION_D", "4"),
    ("OPTION_E", "5"),
    // compose-go's `Read` drops keys starting with a digit, but the path Docker Compose
    // uses (`GetEnvFromFile` -> `ParseWithLookup`) keeps them.
    ("456", "ABC"),
    ("OPTION_F", ""),
    ("OPTION_G", ""),
    ("OPTION_H", "my string"),
];

const FIXTURES: &[Fixture] = &[
        Fixture {
            name: "custom.format",
            content: "FOO:BAR\nZOT:QIX",
            env: &[],
            expected: Ok(&[("FOO", "BAR"), ("ZOT", "QIX")]),
        },
        Fixture {
            name: "equals.env",
            content: "export OPTION_A='postgres://localhost:5432/database?sslmode=disable'\n\n",
            env: &[],
            expected: Ok(&[(
                "OPTION_A",
                "postgres://localhost:5432/database?sslmode=disable",
            )]),
        },
        Fixture {
            name: "exported.env",
            content: "export OPTION_A=2\nexport OPTION_B='\\n'\n",
            env: &[],
            expected: Ok(&[("OPTION_A", "2"), ("OPTION_B", "\\n")]),
        },
        Fixture {
            name: "inherited-multi-var.env",
            content: "foo=bar\nVAR_TO_BE_LOADED_FROM_OS_ENV\nbar=baz\n",
            env: &[("VAR_TO_BE_LOADED_FROM_OS_ENV", "SOME_RANDOM_VALUE")],
            expected: Ok(&[
                ("foo", "bar"),
                ("VAR_TO_BE_LOADED_FROM_OS_ENV", "SOME_RANDOM_VALUE"),
                ("bar", "baz"),
            ]),
        },
        Fixture {
            name: "inherited-not-found.env",
            content: "VARIABLE_NOT_FOUND\n",
            env: &[],
            expected: Ok(&[]),
        },
        Fixture {
            name: "inherited-single-var.env",
            content: "VAR_TO_BE_LOADED_FROM_OS_ENV\n",
            env: &[("VAR_TO_BE_LOADED_FROM_OS_ENV", "SOME_RANDOM_VALUE")],
            expected: Ok(&[("VAR_TO_BE_LOADED_FROM_OS_ENV", "SOME_RANDOM_VALUE")]),
        },
        Fixture {
            name: "invalid1.env",
            content: "# some comments\nfoo=\"\n  a\n  multine\n  value\n\"\nINVALID LINE\nzot=qix",
            env: &[],
            expected: Err((7, "key cannot contain a space")),
        },
        Fixture {
            name: "plain.env",
            content: "OPTION_A=1\nOPTION_B=2\nOPTION_C= 3\nOPTION_D =4\nOPTION_E = 5\n456 = ABC\nOPTION_F = \nOPTION_G=\nOPTION_H = my string # Inline comment\n",
            env: &[],
            expected: Ok(PLAIN),
        },
        Fixture {
            name: "quoted.env",
            content: "OPTION_A='1'\nOPTION_B='2'\nOPTION_C=''\nOPTION_D='\\n'\nOPTION_E=\"1\"\nOPTION_F=\"2\"\nOPTION_G=\"\"\nOPTION_H=\"\\n\"\nOPTION_I = \"echo 'asd'\" # Inline comment\nOPTION_J = 'first line\nsecond line\nthird line\nand so on'\nOPTION_K='Let\\'s go!'\nOPTION_Z = \"last value\"\n",
            env: &[],
            expected: Ok(&[
                ("OPTION_A", "1"),
                ("OPTION_B", "2"),
                ("OPTION_C", ""),
                ("OPTION_D", "\\n"),
                ("OPTION_E", "1"),
                ("OPTION_F", "2"),
                ("OPTION_G", ""),
                ("OPTION_H", "\n"),
                ("OPTION_I", "echo 'asd'"),
                ("OPTION_J", "first line\nsecond line\nthird line\nand so on"),
                ("OPTION_K", "Let's go!"),
                ("OPTION_Z", "last value"),
            ]),
        },
        Fixture {
            name: "special.env",
            content: "VAR.WITH.DOTS=dots\nVAR_WITH_UNDERSCORES=underscores\nVAR-WITH-DASHES=dashes\n",
            env: &[],
            expected: Ok(&[
                ("VAR.WITH.DOTS", "dots"),
                ("VAR_WITH_UNDERSCORES", "underscores"),
                ("VAR-WITH-DASHES", "dashes"),
            ]),
        },
        Fixture {
            name: "substitutions-default.env",
            content: "OPTION_A=${OPTION_A:-1}\nOPTION_B=${OPTION_A}\nOPTION_C=$OPTION_B\nOPTION_D=${OPTION_A}_${OPTION_B}\nOPTION_E=${OPTION_NOT_DEFINED}\n",
            env: &[],
            expected: Ok(&[
                ("OPTION_A", "1"),
                ("OPTION_B", "1"),
                ("OPTION_C", "1"),
                ("OPTION_D", "1_1"),
                ("OPTION_E", ""),
            ]),
        },
        Fixture {
            name: "substitutions-default.env",
            content: "OPTION_A=${OPTION_A:-1}\nOPTION_B=${OPTION_A}\nOPTION_C=$OPTION_B\nOPTION_D=${OPTION_A}_${OPTION_B}\nOPTION_E=${OPTION_NOT_DEFINED}\n",
            env: &[("OPTION_A", "5")],
            expected: Ok(&[
                ("OPTION_A", "5"),
                ("OPTION_B", "5"),
                ("OPTION_C", "5"),
                ("OPTION_D", "5_5"),
                ("OPTION_E", ""),
            ]),
        },
        Fixture {
            name: "substitutions.env",
            content: "OPTION_A=1\nOPTION_B=${OPTION_A}\nOPTION_C=$OPTION_B\nOPTION_D=${OPTION_A}_${OPTION_B}\nOPTION_E=${OPTION_NOT_DEFINED}\n",
            env: &[],
            expected: Ok(&[
                ("OPTION_A", "1"),
                ("OPTION_B", "1"),
                ("OPTION_C", "1"),
                ("OPTION_D", "1_1"),
                ("OPTION_E", ""),
            ]),
        },
        Fixture {
            // The environment wins over the file's own earlier values in interpolation.
            name: "substitutions.env",
            content: "OPTION_A=1\nOPTION_B=${OPTION_A}\nOPTION_C=$OPTION_B\nOPTION_D=${OPTION_A}_${OPTION_B}\nOPTION_E=${OPTION_NOT_DEFINED}\n",
            env: &[("OPTION_A", "5")],
            expected: Ok(&[
                ("OPTION_A", "1"),
                ("OPTION_B", "5"),
                ("OPTION_C", "5"),
                ("OPTION_D", "5_5"),
                ("OPTION_E", ""),
            ]),
        },
        Fixture {
            name: "unquoted.env",
            content: "OPTION_A = \"some quoted phrase\"\nOPTION_B=first one with an unquoted phrase\nOPTION_C = then another one with an unquoted phrase\nOPTION_D = then another one with an unquoted phrase special \u{e8} char\nOPTION_E = \"then another one quoted phrase\"\n",
            env: &[],
            expected: Ok(&[
                ("OPTION_A", "some quoted phrase"),
                ("OPTION_B", "first one with an unquoted phrase"),
                ("OPTION_C", "then another one with an unquoted phrase"),
                (
                    "OPTION_D",
                    "then another one with an unquoted phrase special \u{e8} char",
                ),
                ("OPTION_E", "then another one quoted phrase"),
            ]),
        },
        Fixture {
            name: "utf8-bom.env",
            content: "\u{feff}OPTION_A=1\nOPTION_B=2\nOPTION_C= 3\nOPTION_D =4\nOPTION_E = 5\n456 = ABC\nOPTION_F =\nOPTION_G=\nOPTION_H = my string # Inline comment\n",
            env: &[],
            expected: Ok(PLAIN),
        },
    ];

fn check_fixture(f: &Fixture, content: &str) {
    let env: HashMap<&str, &str> = f.env.iter().copied().collect();
    let lookup = |k: &str| env.get(k).map(|v| v.to_string());
    match (parse(content, &lookup), f.expected) {
        (Ok(got), Ok(expected)) => {
            assert_eq!(sorted(&got), sorted(&map(expected)), "fixture {}", f.name)
        }
        (Err(e), Err((line, message))) => {
            assert_eq!(
                (e.line, e.message.as_str()),
                (line, message),
                "fixture {}",
                f.name
            )
        }
        (got, _) => panic!("fixture {}: unexpected result {got:?}", f.name),
    }
}

#[test]
fn compose_go_fixtures() {
    for f in FIXTURES {
        check_fixture(f, f.content);
    }
}

/// The same expectations against the fixture files themselves, when the conformance corpus
/// is checked out next to the crate.
#[test]
fn compose_go_fixture_files() {
    let dir = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/corpus/compose-go/dotenv/fixtures"
    ));
    if !dir.is_dir() {
        eprintln!("skipping: {} not found", dir.display());
        return;
    }
    let mut seen = std::collections::BTreeSet::new();
    for f in FIXTURES {
        let text = std::fs::read_to_string(dir.join(f.name)).expect("fixture readable");
        assert_eq!(text, f.content, "inlined copy of {} is stale", f.name);
        check_fixture(f, &text);
        seen.insert(f.name);
    }
    // Every fixture file of the corpus is covered.
    for entry in std::fs::read_dir(dir).expect("fixture dir") {
        let name = entry.expect("entry").file_name();
        let name = name.to_string_lossy();
        assert!(seen.contains(name.as_ref()), "fixture {name} has no test");
    }
}

#[test]
fn read_file_locates_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.env");
    std::fs::write(&path, "A=1\n\n  B C=2\n").expect("write");
    let err = read_file(&path, &no_env).unwrap_err();
    assert_eq!(err.span.line, 3);
    assert_eq!(
        err.to_string(),
        format!(
            "{}:3: invalid .env syntax: key cannot contain a space",
            path.display()
        )
    );

    std::fs::write(&path, "A=1\nB=${NOPE:?is needed}\n").expect("write");
    let err = read_file(&path, &no_env).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}:2: required variable NOPE is missing a value: is needed",
            path.display()
        )
    );
    assert!(matches!(err.kind, ErrorKind::Interpolation(_)));

    std::fs::write(&path, "\u{feff}A=1\nexport B=\"x ${A}\"\n").expect("write");
    let got = read_file(&path, &no_env).expect("reads");
    assert_eq!(got, map(&[("A", "1"), ("B", "x 1")]));

    let missing = dir.path().join("nope.env");
    let err = read_file(&missing, &no_env).unwrap_err();
    assert!(matches!(err.kind, ErrorKind::Io { .. }), "{err}");
    assert_eq!(err.span.file.as_deref(), Some(missing.as_path()));
}

#[test]
fn parses_like_compose_go() {
    // (input, key, value), from compose-go's TestParsing and our own edge cases.
    let cases: &[(&str, &str, &str)] = &[
        ("FOO=bar", "FOO", "bar"),
        ("FOO =bar", "FOO", "bar"),
        ("FOO= bar", "FOO", "bar"),
        (r#"FOO="bar""#, "FOO", "bar"),
        ("FOO='bar'", "FOO", "bar"),
        (r#"FOO="escaped\"bar""#, "FOO", r#"escaped"bar"#),
        (r#"FOO="\"quoted\"""#, "FOO", r#""quoted""#),
        (r#"FOO="'d'""#, "FOO", "'d'"),
        ("OPTION_A: 1", "OPTION_A", "1"),
        ("OPTION_A: Foo=bar", "OPTION_A", "Foo=bar"),
        ("OPTION_A=1:B", "OPTION_A", "1:B"),
        ("export OPTION_A=2", "OPTION_A", "2"),
        (r"export OPTION_B='\n'", "OPTION_B", r"\n"),
        ("export exportFoo=2", "exportFoo", "2"),
        ("exportFOO=2", "exportFOO", "2"),
        ("export_FOO =2", "export_FOO", "2"),
        ("export.FOO= 2", "export.FOO", "2"),
        ("export\tOPTION_A=2", "OPTION_A", "2"),
        ("  export OPTION_A=2", "OPTION_A", "2"),
        ("\texport OPTION_A=2", "OPTION_A", "2"),
        (r#"export OPTION_A="export A""#, "OPTION_A", "export A"),
        ("export=1", "export", "1"),
        (r#"FOO="bar\nbaz""#, "FOO", "bar\nbaz"),
        (r"FOO=a\tb", "FOO", r"a\tb"),
        (r#"FOO="a\tb""#, "FOO", "a\tb"),
        (
            r#"KEY="Z\aZ\bZ\fZ\nZ\rZ\tZ\vZ\\Z\0123Z""#,
            "KEY",
            "Z\u{7}Z\u{8}Z\u{c}Z\nZ\rZ\tZ\u{b}Z\\ZSZ",
        ),
        ("FOO.BAR=foobar", "FOO.BAR", "foobar"),
        ("FOO=foobar=", "FOO", "foobar="),
        ("FOO=bar ", "FOO", "bar"),
        ("FOO=bar # this is foo", "FOO", "bar"),
        ("FOO=bar #this is foo", "FOO", "bar"),
        ("FOO=bar #", "FOO", "bar"),
        (
            "FOO=123#not-an-inline-comment",
            "FOO",
            "123#not-an-inline-comment",
        ),
        (
            "FOO=bar\t#tab-is-not-a-comment-start",
            "FOO",
            "bar\t#tab-is-not-a-comment-start",
        ),
        (r#"FOO="bar#baz""#, "FOO", "bar#baz"),
        (r##"FOO="bar#baz"#"##, "FOO", "bar#baz"),
        (r#"FOO="bar#baz" # comment"#, "FOO", "bar#baz"),
        ("FOO='bar#baz' # comment", "FOO", "bar#baz"),
        (r#"FOO="bar#baz#bang" # comment"#, "FOO", "bar#baz#bang"),
        (r#"FOO="ba#r""#, "FOO", "ba#r"),
        ("FOO='ba#r'", "FOO", "ba#r"),
        (r#"FOO="bar\n\ b\az""#, "FOO", "bar\n\\ b\u{7}z"),
        (r#"FOO="bar\\\n\ b\az""#, "FOO", "bar\\\n\\ b\u{7}z"),
        (r#"FOO="bar\\r\ b\az""#, "FOO", "bar\\r\\ b\u{7}z"),
        (r#"FOO="bar\nbaz\\""#, "FOO", "bar\nbaz\\"),
        (r#"="value""#, "", "value"),
        (" KEY =value", "KEY", "value"),
        ("   KEY=value", "KEY", "value"),
        ("\tKEY=value", "KEY", "value"),
        (r#"KEY="\0123""#, "KEY", "S"),
        (r#"KEY="\0""#, "KEY", "\\"),
        (r#"KEY="\012""#, "KEY", "\\12"),
        (r#"KEY="\0777""#, "KEY", "\\777"),
        (r#"KEY="\x07""#, "KEY", r"\x07"),
        (r#"KEY="\u12e4""#, "KEY", r"\u12e4"),
        (r#"KEY="\U00101234""#, "KEY", r"\U00101234"),
        (r#"KEY="\c""#, "KEY", r"\c"),
        ("KEY='it\\'s \\n $HOME'", "KEY", "it's \\n $HOME"),
        ("KEY=value\r\nB=2", "KEY", "value"),
        ("a[1]=c", "a[1]", "c"),
        ("a.propertyKey=d", "a.propertyKey", "d"),
        (
            "árvíztűrő-TÜKÖRFÚRÓGÉP=ÁRVÍZTŰRŐ-tükörfúrógép",
            "árvíztűrő-TÜKÖRFÚRÓGÉP",
            "ÁRVÍZTŰRŐ-tükörfúrógép",
        ),
        ("KEY=#value", "KEY", "#value"),
        // a quoted value ends at its quote; what follows starts the next statement
        ("A=\"x\" B=2", "B", "2"),
    ];
    for (src, key, value) in cases {
        assert_eq!(parse_one(src, key), *value, "{src:?}");
    }
}

#[test]
fn expands_variables() {
    // compose-go's TestExpanding and TestExpandingEnvironmentWithLookup.
    let cases: &[(&str, &[(&str, &str)])] = &[
            ("FOO=test\nBAR=$FOO", &[("FOO", "test"), ("BAR", "test")]),
            ("FOO=test\nBAR=${FOO}bar", &[("FOO", "test"), ("BAR", "testbar")]),
            ("BAR=$FOO", &[("BAR", "")]),
            ("FOO=test\nBAR=\"quote $FOO\"", &[("FOO", "test"), ("BAR", "quote test")]),
            ("BAR='quote $FOO'", &[("BAR", "quote $FOO")]),
            (r#"FOO="foo\$BAR""#, &[("FOO", "foo$BAR")]),
            (r#"FOO="foo\${BAR}""#, &[("FOO", "foo${BAR}")]),
            (
                "FOO=test\nBAR=\"foo\\${FOO} ${FOO}\"",
                &[("FOO", "test"), ("BAR", "foo${FOO} test")],
            ),
            ("TEST=$ME", &[("TEST", "YES")]),
            ("A=$$B", &[("A", "$B")]),
            (r"A=\$B", &[("A", r"\")]),
            (
                "TEST_URLS=\"stratum+tcp://stratum.antpool.com:3333\nstratum+tcp://stratum.antpool.com:443\"",
                &[(
                    "TEST_URLS",
                    "stratum+tcp://stratum.antpool.com:3333\nstratum+tcp://stratum.antpool.com:443",
                )],
            ),
        ];
    let me = |k: &str| (k == "ME").then(|| "YES".to_string());
    for (src, expected) in cases {
        assert_parses(src, &me, expected);
    }

    // compose-go's var-expansion tests: EMPTY_VAR and TEST_VAR come from the file.
    let file = "EMPTY_VAR=\nTEST_VAR=Test Value\n";
    let cases: &[(&str, Result<&str, &str>)] = &[
        ("${UNSET_VAR:-Default Value}", Ok("Default Value")),
        ("${EMPTY_VAR:-Default Value}", Ok("Default Value")),
        ("${TEST_VAR:-Default Value}", Ok("Test Value")),
        ("${UNSET_VAR-Default Value}", Ok("Default Value")),
        ("${EMPTY_VAR-Default Value}", Ok("")),
        ("${TEST_VAR-Default Value}", Ok("Test Value")),
        (
            "${UNSET_VAR:?Test error}",
            Err("required variable UNSET_VAR is missing a value: Test error"),
        ),
        (
            "${EMPTY_VAR:?Test error}",
            Err("required variable EMPTY_VAR is missing a value: Test error"),
        ),
        ("${TEST_VAR:?Default Value}", Ok("Test Value")),
        (
            "${UNSET_VAR?Test error}",
            Err("required variable UNSET_VAR is missing a value: Test error"),
        ),
        ("${EMPTY_VAR?Test error}", Ok("")),
        ("${TEST_VAR?Default Value}", Ok("Test Value")),
    ];
    for (template, expected) in cases {
        let src = format!("{file}RESULT={template}\n");
        let got = parse(&src, &no_env);
        match expected {
            Ok(v) => assert_eq!(
                got.as_ref().map(|m| m["RESULT"].as_str()),
                Ok(*v),
                "{template}"
            ),
            Err(msg) => {
                let e = got.unwrap_err();
                assert!(e.is_interpolation());
                assert_eq!((e.line, e.message.as_str()), (3, *msg), "{template}");
            }
        }
    }
}

#[test]
fn bare_keys_come_from_the_environment() {
    let env = |k: &str| match k {
        "HOME" => Some("/home/me".to_string()),
        "EMPTY" => Some(String::new()),
        _ => None,
    };
    assert_parses(
        "HOME\nEMPTY\nNOPE\nexport HOME\nLAST=1\nHOME",
        &env,
        &[("HOME", "/home/me"), ("EMPTY", ""), ("LAST", "1")],
    );
    // A bare key is not read from the file's own earlier values.
    assert_parses("A=1\nA\n", &env, &[("A", "1")]);
}

#[test]
fn ignores_blank_lines_and_comments() {
    for src in [
        "\n",
        "\r\n",
        "\t\t ",
        "# Comment",
        "\t # comment",
        "",
        "\u{feff}",
    ] {
        assert_parses(src, &no_env, &[]);
    }
    assert_parses(
        "# c1\n\n  # c2\nA=1 # c3\n#B=2\n\r\nC='x' # c4\n",
        &no_env,
        &[("A", "1"), ("C", "x")],
    );
}

#[test]
fn parses_compose_go_parser_test_input() {
    // compose-go's TestParseBytes: brackets, dots, dashes and non-ASCII letters in keys.
    assert_parses(
            "\na=b\na[1]=c\na.propertyKey=d\n\u{e1}rv\u{ed}zt\u{171}r\u{151}-T\u{dc}K\u{d6}RF\u{da}R\u{d3}G\u{c9}P=\u{c1}RV\u{cd}ZT\u{170}R\u{150}-t\u{fc}k\u{f6}rf\u{fa}r\u{f3}g\u{e9}p\n",
            &no_env,
            &[
                ("a", "b"),
                ("a[1]", "c"),
                ("a.propertyKey", "d"),
                (
                    "\u{e1}rv\u{ed}zt\u{171}r\u{151}-T\u{dc}K\u{d6}RF\u{da}R\u{d3}G\u{c9}P",
                    "\u{c1}RV\u{cd}ZT\u{170}R\u{150}-t\u{fc}k\u{f6}rf\u{fa}r\u{f3}g\u{e9}p",
                ),
            ],
        );
}

#[test]
fn keeps_file_order_and_last_value() {
    let got = parse("B=1\nA=2\nB=3\n", &no_env).expect("parses");
    assert_eq!(
        got.into_iter().collect::<Vec<_>>(),
        vec![
            ("B".to_string(), "3".to_string()),
            ("A".to_string(), "2".to_string())
        ]
    );
}

#[test]
fn reports_unset_variables() {
    let mut missing = Vec::new();
    parse_with("A=$X\nB=\"${Y}\"\nC='$Z'\nD=${W:-d}\n", &no_env, &mut |n| {
        missing.push(n.to_string())
    })
    .expect("parses");
    assert_eq!(missing, ["X", "Y"]);
}

#[test]
fn invalid_input_names_the_line() {
    let cases: &[(&str, usize, &str)] = &[
        (
            "%!(EXTRA string)=foo",
            1,
            r#"unexpected character "%" in variable name "%!(EXTRA string)=foo""#,
        ),
        (
            "lol$wut",
            1,
            r#"unexpected character "$" in variable name "lol$wut""#,
        ),
        (
            "A=1\n\nexport B$=2\nC=3",
            3,
            r#"unexpected character "$" in variable name "B$=2""#,
        ),
        ("A=1\nINVALID LINE\n", 2, "key cannot contain a space"),
        ("MY KEY=1", 1, "key cannot contain a space"),
        ("KEY=\"", 1, "unterminated quoted value \""),
        ("KEY=\"value", 1, "unterminated quoted value \"value"),
        (
            "KEY=\"value\\\"",
            1,
            "unterminated quoted value \"value\\\"",
        ),
        ("KEY=\"value'", 1, "unterminated quoted value \"value'"),
        ("KEY='", 1, "unterminated quoted value '"),
        ("KEY='value", 1, "unterminated quoted value 'value"),
        ("KEY='value\\'", 1, "unterminated quoted value 'value\\'"),
        ("KEY='value\"", 1, "unterminated quoted value 'value\""),
        (
            "A=1\nKEY='multi\nline\n",
            2,
            "unterminated quoted value 'multi",
        ),
        ("export   ", 1, "zero length string"),
        (
            "A=\"x\"\nB=${C",
            2,
            r#"invalid interpolation format for "${C": you may need to escape any $ with another $"#,
        ),
    ];
    for (src, line, message) in cases {
        let err = parse(src, &no_env).unwrap_err();
        assert_eq!(
            (err.line, err.message.as_str()),
            (*line, *message),
            "{src:?}"
        );
    }
    assert_eq!(
        parse("A B=1", &no_env).unwrap_err().to_string(),
        "line 1: key cannot contain a space"
    );
    // single-quoted values are not interpolated, so they cannot fail to be
    assert_parses("A='${'", &no_env, &[("A", "${")]);
}
