"""Unit tests of the words and the matching: what procurement Portuguese looks like to the rules,
one failure class of plain keyword matching at a time."""

from __future__ import annotations

import pytest

from backend.domain.matching import (
    SectorLists,
    SectorRules,
    SectorsRules,
    TermMatcher,
    prepare,
    sectors_typos,
    split_terms,
)
from backend.domain.words import key, known, normalize, plurals, singular


def find(matcher: TermMatcher, objeto: str) -> list[str]:
    return matcher.find(prepare(objeto))


# --- words -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Aquisição de Pães", "aquisicao de paes"),
        ("AQUISIÇÃO DE COLCHÕES", "aquisicao de colchoes"),
        ("Serviços de manutenção: elétrica/hidráulica!", "servicos de manutencao eletrica hidraulica"),
        ("meia-entrada", "meia entrada"),
        ("  caixa d'água   (20 L)  ", "caixa d agua 20 l"),
        ("Papel A4 75g/m²", "papel a4 75g m2"),
        ("", ""),
    ],
)
def test_normalize_strips_accents_case_and_punctuation(text: str, expected: str) -> None:
    assert normalize(text) == expected


@pytest.mark.parametrize(
    ("plural", "one"),
    [("colchoes", "colchao"), ("paes", "pao"), ("papeis", "papel"), ("materiais", "material"),
     ("lencois", "lencol"), ("itens", "item"), ("computadores", "computador"), ("luzes", "luz"),
     ("cadeiras", "cadeira"), ("notebooks", "notebook"), ("tigres", "tigre"),
     ("onibus", "onibus"), ("lapis", "lapis"), ("tenis", "tenis"), ("gas", "gas"), ("cruzes", "cruz"), ("pneus", "pneu"),
     ("chapeus", "chapeu"), ("fios", "fio"), ("gazes", "gaze"), ("estereis", "esteril"),
     ("infantis", "infantil"), ("portateis", "portatil"), ("barris", "barril"), ("pais", "pai"), ("meses", "mes"), ("gases", "gas"),
     ("classes", "classe")],
)
def test_singular_of_portuguese_plurals(plural: str, one: str) -> None:
    assert singular(plural) == one


@pytest.mark.parametrize(("word", "plural"), [("colchao", "colchoes"), ("pao", "paes"), ("papel", "papeis"),
                                              ("item", "itens"), ("toner", "toners"), ("kit", "kits")])
def test_plurals_of_a_word_of_a_phrase(word: str, plural: str) -> None:
    assert {word, plural} <= plurals(word)


def test_forms_of_a_word_share_a_key_and_short_words_keep_theirs() -> None:
    assert key("odontologia") == key("odontologicos") == key("odontologica")
    assert key("laboratorios") == key("laboratorio")
    assert len({key("mesa"), key("mes"), key("mesada")}) == 3  # a stem would make them one
    assert key("farda") != key("fardo")


def test_known_words_are_words_of_portuguese() -> None:
    assert known("caldeira") and known("vestiario") and known("equipamento")
    assert not known("medicmentos") and not known("odonrologicos")


# --- class "forma": word forms, derived words, multi-word terms apart or reordered -----------------


def test_a_term_finds_every_form_of_its_words() -> None:
    matcher = TermMatcher.build(["colchão", "pão", "papel", "computador", "odontologia", "material elétrico"])
    assert find(matcher, "AQUISIÇÃO DE COLCHÕES, PÃES, PAPÉIS E COMPUTADORES") == ["colchão", "pão", "papel", "computador"]
    assert find(matcher, "Materiais odontológicos e MATERIAL ELETRICO") == ["odontologia", "material elétrico"]


def test_a_term_finds_no_other_word_built_on_the_same_stem() -> None:
    matcher = TermMatcher.build(["medicamento", "monitor", "alimento", "elevador", '"fármaco"', "mesa"])
    assert find(matcher, "serviços médicos e medicina do trabalho") == []
    assert find(matcher, "monitoramento por câmeras; alimentador automático") == []
    assert find(matcher, "reservatório elevado na farmácia básica; pagamento de mesada") == []


def test_a_term_of_several_words_matches_them_near_each_other_in_any_order() -> None:
    matcher = TermMatcher.build(["toalha de papel", "transporte rodoviário de carga"])
    assert find(matcher, "PAPEL TOALHA INTERFOLHADO") == ["toalha de papel"]
    assert find(matcher, "toalha interfolhada de papel 100% celulose") == ["toalha de papel"]
    assert find(matcher, "serviço de transporte de carga rodoviário") == ["transporte rodoviário de carga"]
    assert find(matcher, "toalha de banho, lençol e fronha em papel kraft") == []  # too far apart


def test_a_phrase_in_quotes_needs_its_words_side_by_side_in_order() -> None:
    matcher = TermMatcher.build(['"kit escolar"', '"para-raios"'])
    assert find(matcher, "KITS ESCOLARES para alunos") == ['"kit escolar"']
    assert find(matcher, "kits de uniforme escolar") == []
    assert find(matcher, "instalação de para-raios") == ['"para-raios"']
    assert find(matcher, "aparelho de raio-x") == []


def test_a_term_found_inside_a_longer_one_is_left_out() -> None:
    matcher = TermMatcher.build(["papel", "papel higiênico"])
    assert find(matcher, "Papel higiênico folha dupla") == ["papel higiênico"]
    assert find(matcher, "Papel A4 e papel higiênico") == ["papel", "papel higiênico"]


def test_wildcard_matches_any_ending_from_a_word_start() -> None:
    matcher = TermMatcher.build(["informátic*"])
    assert find(matcher, "Equipamentos de INFORMÁTICA e serviços informáticos") == ["informátic*"]
    assert find(matcher, "desinformatica") == []


def test_terms_are_reported_once_in_order_of_first_appearance() -> None:
    matcher = TermMatcher.build(["camiseta", "bermuda"])
    assert find(matcher, "bermudas, camisetas e mais bermudas") == ["bermuda", "camiseta"]


# --- class "erro": typos ------------------------------------------------------------------------


def test_a_long_word_misspelt_by_one_letter_still_counts() -> None:
    matcher = TermMatcher.build(["medicamento", "odontológico", "ambulância"])
    assert find(matcher, "AQUISICAO DE MEDICMENTOS") == ["medicamento"]  # a letter left out
    assert find(matcher, "Materiais Odonrológicos") == ["odontológico"]  # a letter changed
    assert find(matcher, "locação de ambualncia") == ["ambulância"]  # two letters swapped


def test_a_real_word_or_a_short_one_is_never_taken_for_a_typo() -> None:
    matcher = TermMatcher.build(["cadeira", "contador de células", "pescado", "telhado"])
    assert find(matcher, "manutenção de caldeira") == []  # "caldeira" is a word
    assert find(matcher, "veículos leves e pesados; teclado e mouse") == []


def test_phrases_forgive_no_typo() -> None:
    phrases = TermMatcher.build(["plano de saúde", "medicamento controlado"], exact=True, typos=False)
    assert find(phrases, "plano de saude") == ["plano de saúde"]
    assert find(phrases, "medicmento controlado") == []


# --- classes "generica" and "exclusao": a sector's reading -------------------------------------


LISTS = SectorLists(
    palavras_chave=("ambulância", "pneu", "locação de veículo", "transporte escolar"),
    genericas=("veículo", "carro", "frete"),
    contexto=("frota", "zero km", "motorista"),
    ignorar=("carro de curativos", "carro maca", "vale-transporte"),
    exclusoes=("seguro de frota", "transporte de valores"),
)
RULES = SectorRules.build(LISTS)


def read(objeto: str) -> tuple[list[str], list[str]]:
    reading = RULES.read(prepare(objeto))
    return reading.found, reading.doubtful


def test_one_keyword_puts_the_objeto_in_the_sector() -> None:
    assert read("Aquisição de pneus aro 22,5") == (["pneu"], [])
    assert read("LOCAÇÃO DE VEÍCULOS COM SEGURO TOTAL") == (["locação de veículo"], [])


def test_a_generic_word_alone_is_doubtful_and_counts_with_a_context_word() -> None:
    assert read("Serviço de dedetização em veículos da prefeitura") == ([], ["veículo"])
    assert read("Aquisição de veículo zero km tipo hatch") == (["veículo", "zero km"], [])
    assert read("Aquisição de carros e veículos utilitários") == (["carro", "veículo"], [])


def test_an_ignored_phrase_hides_its_words_only() -> None:
    assert read("Aquisição de carro de curativos em inox") == ([], [])
    assert read("Carro maca e ambulância para o SAMU") == (["ambulância"], [])


def test_an_exclusion_rules_the_objeto_out_whatever_else_it_says() -> None:
    assert read("Contratação de seguro de frota com cobertura para pneus") == ([], [])


def test_terms_too_far_apart_are_a_near_miss() -> None:
    assert read("Transporte de alunos das redes estadual e municipal até a unidade escolar") == (
        [], ["transporte escolar"])
    assert read("Serviço de transporte escolar") == (["transporte escolar"], [])


def test_every_sector_at_once_reads_as_each_alone() -> None:
    other = SectorLists(palavras_chave=("carro de curativos", "seguro"), exclusoes=("pneu", "ambulancha"))
    typos = sectors_typos([LISTS, other])
    together = SectorsRules.build({"transporte": LISTS, "outro": other}, typos)
    alone = {"transporte": SectorRules.build(LISTS, typos), "outro": SectorRules.build(other, typos)}
    for objeto in ("Carro de curativos e pneus", "seguro de frota", "locação de veículos com motorista",
                   "dedetização em veículos", "transporte de alunos para a unidade escolar",
                   "Aquisição de ambulancha para remoção de pacientes", "AMBULANCIAS TIPO A"):
        text = prepare(objeto)
        readings = together.read(text)
        for sid, rules in alone.items():
            assert readings.get(sid, rules.read(prepare(""))) == rules.read(text), (objeto, sid)


def test_a_word_of_another_sectors_term_is_no_misspelling() -> None:
    assert read("Aquisição de ambulancha") == (["ambulância"], [])  # one letter from "ambulância"
    other = SectorLists(palavras_chave=(), exclusoes=("ambulancha",))
    shared = SectorRules.build(LISTS, sectors_typos([LISTS, other]))
    assert shared.read(prepare("Aquisição de ambulancha")).found == []
    assert shared.read(prepare("Aquisição de ambulãncias")).found == ["ambulância"]


# --- TermMatcher's edges -------------------------------------------------------------------------


def test_matcher_ignores_blank_and_repeated_terms() -> None:
    matcher = TermMatcher.build(["", "  ", "jaleco", " jaleco "])
    assert matcher.terms == ("jaleco",)
    empty = TermMatcher.build([])
    assert find(empty, "qualquer texto") == []
    assert not empty.any(prepare("qualquer texto"))


def test_matcher_rejects_a_term_without_words() -> None:
    with pytest.raises(ValueError, match="empty term"):
        TermMatcher.build(["***"])


def test_split_terms_on_commas_semicolons_and_newlines() -> None:
    assert split_terms("jaleco, avental; touca\nbota") == ["jaleco", "avental", "touca", "bota"]
    assert split_terms(" jaleco ,, ; ") == ["jaleco"]


def test_terms_with_nothing_to_look_for_are_left_out() -> None:
    assert split_terms("!!!, *; -") == []
    assert split_terms("jaleco, !!!, a*") == ["jaleco", "a*"]
    assert TermMatcher.build(split_terms("!!!")).terms == ()
    assert split_terms("") == []
    assert split_terms(None) == []
