"""``text.decode``: encodings by evidence, decoded strictly; ``text.clean``'s idea of whitespace."""

from __future__ import annotations

import pytest

from workbench.errors import DataError
from workbench.ingest.text import clean, decode

try:
    from conftest import real
except ImportError:  # pragma: no cover
    from pathlib import Path

    def real(rel: str) -> Path:
        return (Path(__file__).resolve().parents[3] / ".." / "shared" / "fixtures" / "real" / rel).resolve()


RUSSIAN = "<td>Чистая прибыль</td><td>-62.62</td><td>Общая прибыль</td><td>1116.26</td><td>Всего сделок</td>"
SPANISH = "<td>Pérdida bruta</td><td>Depósito inicial</td><td>Año</td><td>Señal</td><td>Máx. pérdidas consecutivas</td>"
FRENCH = "<td>Dépot initial</td><td>Période</td><td>Qualité du modelage</td><td>Rémunération espérée</td>"
JAPANESE = "<td>純益</td><td>総利益</td><td>総損失</td><td>初期証拠金</td><td>テストバー数</td><td>モデリング品質</td>"
CHINESE = "<td>第二单加仓间距=50; 第二单加仓手数=0.02; 是否显示界面统计信息=true; 总净盈利</td>"
TURKISH = (
    "<td>Toplam net kâr</td><td>İlk yatırım</td><td>Brüt zarar</td><td>Kâr faktörü</td><td>Çubuk sayısı</td>"
    "<td>Başlangıç mevduatı</td><td>Kârlı işlemler (toplamın %'si)</td><td>Zararlı işlemler (toplamın %'si)</td>"
    "<td>Ardışık kazançlar</td><td>Göreceli düşüş</td>"
)


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        (RUSSIAN, "cp1251"),
        (SPANISH, "cp1252"),
        (FRENCH, "cp1252"),
        (JAPANESE, "shift_jis"),
        (CHINESE, "gbk"),
        (RUSSIAN + SPANISH, "utf-8"),
    ],
)
def test_undeclared_8_bit_text_is_decoded_by_evidence(text: str, encoding: str) -> None:
    page = f"<html><body><table><tr>{text}</tr></table></body></html>"
    assert decode(page.encode(encoding)) == page


def test_the_formats_own_labels_break_ties_between_8_bit_readings() -> None:
    # charset-normalizer alone reads these Turkish labels as Baltic cp1257 ("Żlk yatżrżm"): the MT4 label
    # tables (which know "Toplam net kâr", "İlk yatırım"...) are the evidence that decides
    from workbench.ingest.parsers._mt_labels import MT4_TESTER_LABELS, vocabulary

    page = f"<html><body><table><tr>{TURKISH}</tr></table></body></html>"
    assert decode(page.encode("cp1254"), vocabulary=vocabulary(MT4_TESTER_LABELS)) == page


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be"])
def test_byte_order_marks_and_utf16_zero_bytes_decide(encoding: str) -> None:
    page = "<html>" + RUSSIAN + JAPANESE + "</html>"
    assert decode(page.encode(encoding)) == page


def test_the_markups_declaration_is_honoured_when_the_bytes_agree() -> None:
    page = '<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1251"></head>Сим'
    assert decode(page.encode("cp1251")) == page
    xml = '<?xml version="1.0" encoding="ISO-8859-1"?><a>caf\u00e9</a>'
    assert decode(xml.encode("latin-1")) == xml
    # a declaration the bytes contradict is ignored: the evidence decides
    lying = '<meta charset="utf-8"><td>' + RUSSIAN + "</td>"
    assert decode(lying.encode("cp1251")) == lying


def test_bytes_no_encoding_accepts_raise_naming_the_offset() -> None:
    with pytest.raises(DataError, match=r"offset 5") as e:
        decode(b"<html\xff\xfe\x00\x81\x8d\x8f\x90\x9d" * 3)
    assert "byte" in e.value.where
    bad_utf16 = "<html>ok</html>".encode("utf-16-le") + b"\x00\xd8"  # a lone surrogate
    with pytest.raises(DataError, match="utf-16-le"):
        decode(b"\xff\xfe" + bad_utf16)


def test_decoding_never_substitutes_characters() -> None:
    for rel in (
        "mt4_tester_html/panpip_super30k_gbpusd_d1_ru_cp1251.htm",
        "mt4_tester_html/ignaxio_swing_nas100_m1_es_cp1252.htm",
        "mt4_tester_html/lucastenaglia_blank_summary_gbk.htm",
        "mt4_tester_html/qg0_rsi_momentum_eurusd_fr.htm",
    ):
        assert "\ufffd" not in decode(real(rel).read_bytes()), rel


def test_clean_treats_nbsp_and_the_gbk_full_width_space_as_whitespace() -> None:
    # GBK has no NBSP: MetaTrader writes &nbsp; as the full-width space U+3000 (bytes A1 A1)
    assert "\u3000".encode("gbk") == b"\xa1\xa1"
    assert clean("\u3000100\u3000000.00\u3000") == "100 000.00"
    assert clean("\u00a0Symbol\u00a0\u00a0 XAUUSD ") == "Symbol XAUUSD"
    assert decode("<td>\u3000</td><td>总净盈利</td>".encode("gbk")) == "<td>\u3000</td><td>总净盈利</td>"
