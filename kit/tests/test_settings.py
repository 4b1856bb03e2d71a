"""authgw_kit.settings: listen addresses and secrets read from files."""

import pytest

from authgw_kit.settings import bind_address, check_bind_address, read_secret_file, url_with_password_file


@pytest.mark.parametrize("value", ["", "127.0.0.1:9100", "[::1]:9200", "metrics.internal:1", "0.0.0.0:65535"])
def test_good_addresses_are_kept(value):
    assert check_bind_address(value) == value


@pytest.mark.parametrize("value", ["nowhere", ":9100", "[]:9100", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
                                   "127.0.0.1:http", "127.0.0.1:-1"])
def test_bad_addresses_are_refused_with_the_example(value):
    with pytest.raises(ValueError, match=r"must be host:port \(e\.g\. 10\.0\.0\.1:9300\), or empty"):
        check_bind_address(value, example="10.0.0.1:9300")


def test_bind_address_splits_host_and_port():
    assert bind_address("127.0.0.1:9100") == ("127.0.0.1", 9100)
    assert bind_address("[::1]:9200") == ("::1", 9200)
    assert bind_address("") is None and bind_address(None) is None


def test_secret_file_is_read_without_trailing_line_breaks(tmp_path):
    path = tmp_path / "password"
    path.write_text("p@ss:w/rd %\r\n\n", encoding="utf-8")
    problems = []
    assert read_secret_file(path, "DB_PASSWORD_FILE", problems) == "p@ss:w/rd %"
    assert problems == []


def test_missing_empty_and_unreadable_files_are_problems_naming_the_variable(tmp_path):
    problems = []
    assert read_secret_file(tmp_path / "absent", "DB_PASSWORD_FILE", problems) is None
    (tmp_path / "empty").write_text("\n", encoding="utf-8")
    assert read_secret_file(tmp_path / "empty", "DB_PASSWORD_FILE", problems) is None
    (tmp_path / "binary").write_bytes(b"\xff\xfe\x00secret")
    assert read_secret_file(tmp_path / "binary", "DB_PASSWORD_FILE", problems) is None
    assert read_secret_file(tmp_path, "DB_PASSWORD_FILE", problems) is None  # a folder
    assert problems == [
        f"DB_PASSWORD_FILE {tmp_path / 'absent'} does not exist",
        f"DB_PASSWORD_FILE {tmp_path / 'empty'} is empty",
        f"DB_PASSWORD_FILE {tmp_path / 'binary'} is not readable (UnicodeDecodeError)",
        f"DB_PASSWORD_FILE {tmp_path} is not readable (IsADirectoryError)",
    ]
    assert not any("secret" in problem for problem in problems)


def test_url_gets_the_file_s_password_escaped(tmp_path):
    sqlalchemy_url = pytest.importorskip("sqlalchemy.engine").make_url
    path = tmp_path / "password"
    path.write_text("p@ss/w:rd%\n", encoding="utf-8")
    problems = []
    url = url_with_password_file("mysql+pymysql://app@db:3306/auth?charset=utf8mb4", path, "DB_PASSWORD_FILE",
                                 problems)
    assert problems == []
    parsed = sqlalchemy_url(url)
    assert (parsed.username, parsed.password, parsed.host, parsed.database) == ("app", "p@ss/w:rd%", "db", "auth")
    assert parsed.query == {"charset": "utf8mb4"}


def test_url_problems_leave_the_url_unchanged(tmp_path):
    pytest.importorskip("sqlalchemy")
    problems = []
    assert url_with_password_file("mysql+pymysql://app@db/auth", tmp_path / "absent", "DB_PASSWORD_FILE",
                                  problems) == "mysql+pymysql://app@db/auth"
    assert problems == [f"DB_PASSWORD_FILE {tmp_path / 'absent'} does not exist"]
    path = tmp_path / "password"
    path.write_text("pw", encoding="utf-8")
    problems = []
    assert url_with_password_file("not a url", path, "DB_PASSWORD_FILE", problems) == "not a url"
    assert problems == []  # the URL's own check reports it
