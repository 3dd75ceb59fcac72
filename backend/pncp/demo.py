"""Generated PNCP records for offline runs, demos and benchmarks, and an ASGI double of PNCP.

`generate_records(uf, modalidade, day)` gives the licitações "published" that day, in the exact
wire format of `GET /v1/contratacoes/publicacao`. Everything is made up (órgãos, CNPJs, texts),
but shaped and distributed like the real API: counts scale with the UF and the modalidade,
weekends and national holidays are almost empty, ~10% of budgets are confidential (0),
~20% of `linkSistemaOrigem` are null or "", proposal dates can be null, most records are
"Divulgada no PNCP". The same call always returns the same records, in any process: each
(uf, modalidade, day) seeds its own `random.Random` from a string.

Each record also has a history (`_history`): most were never touched after publication
(`dataAtualizacaoGlobal` is the publication moment), some were edited days later, and about 3 in
100 were *changed* 1 to 10 days after publication: revogada, anulada, suspensa, or their
proposal dates moved. A record is generated in its current state, so `/publicacao` and
`/atualizacao` show the same record identically.

`create_demo_app()` serves those records the way PNCP does (params, pagination, 204, 400) on
`/v1/contratacoes/publicacao` (by publication date), `/v1/contratacoes/atualizacao` (by
update date) and `/v1/contratacoes/proposta` (proposal period open now, whatever the publication
date; 422 for a `dataFinal` already past); `demo_transport()` plugs it into httpx, so the real
client talks to it with no network. The request handling is shared (`publicacao_response`,
`atualizacao_response`, `proposta_response`) with the HTTP double in `tests/fakes/pncp.py`.
"""

from __future__ import annotations

import functools
import math
import random
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, ClassVar

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from backend.codes import MODALIDADES, UFS, now_brasilia
from backend.pncp.records import parse_datetime

DEMO_BASE_URL = "http://pncp-demo/api/consulta"
PUBLICACAO_PATH = "/v1/contratacoes/publicacao"
ATUALIZACAO_PATH = "/v1/contratacoes/atualizacao"
PROPOSTA_PATH = "/v1/contratacoes/proposta"
# The API answers under its documented root and under the older `/pncp-consulta` one.
PUBLICACAO_PATHS: tuple[str, ...] = (
    PUBLICACAO_PATH,
    "/api/consulta" + PUBLICACAO_PATH,
    "/pncp-consulta" + PUBLICACAO_PATH,
)
ATUALIZACAO_PATHS: tuple[str, ...] = (
    ATUALIZACAO_PATH,
    "/api/consulta" + ATUALIZACAO_PATH,
    "/pncp-consulta" + ATUALIZACAO_PATH,
)
PROPOSTA_PATHS: tuple[str, ...] = (
    PROPOSTA_PATH,
    "/api/consulta" + PROPOSTA_PATH,
    "/pncp-consulta" + PROPOSTA_PATH,
)
MAX_PAGE_SIZE = 50
MIN_PAGE_SIZE = 10
DEFAULT_PAGE_SIZE = 50
MAX_WINDOW_DAYS = 365

_SEED_VERSION = "smartlic-pncp-demo/1"
_FMT = "%Y-%m-%dT%H:%M:%S"

Record = dict[str, Any]

# --------------------------------------------------------------------------------------------
# Geography: IBGE prefix of each UF, the preposition of its name, real municipality names
# (capital first). Capitals carry their real IBGE code; other codes are made up from the UF
# prefix with a valid IBGE check digit.
# --------------------------------------------------------------------------------------------

UF_IBGE: dict[str, str] = {
    "RO": "11", "AC": "12", "AM": "13", "RR": "14", "PA": "15", "AP": "16", "TO": "17",
    "MA": "21", "PI": "22", "CE": "23", "RN": "24", "PB": "25", "PE": "26", "AL": "27",
    "SE": "28", "BA": "29", "MG": "31", "ES": "32", "RJ": "33", "SP": "35", "PR": "41",
    "SC": "42", "RS": "43", "MS": "50", "MT": "51", "GO": "52", "DF": "53",
}

_UF_PREP: dict[str, str] = {
    "AC": "DO", "AL": "DE", "AP": "DO", "AM": "DO", "BA": "DA", "CE": "DO", "DF": "DO",
    "ES": "DO", "GO": "DE", "MA": "DO", "MT": "DE", "MS": "DE", "MG": "DE", "PA": "DO",
    "PB": "DA", "PR": "DO", "PE": "DE", "PI": "DO", "RJ": "DO", "RN": "DO", "RS": "DO",
    "RO": "DE", "RR": "DE", "SC": "DE", "SP": "DE", "SE": "DE", "TO": "DO",
}

_CAPITAL_IBGE: dict[str, str] = {
    "AC": "1200401", "AL": "2704302", "AP": "1600303", "AM": "1302603", "BA": "2927408",
    "CE": "2304400", "DF": "5300108", "ES": "3205309", "GO": "5208707", "MA": "2111300",
    "MT": "5103403", "MS": "5002704", "MG": "3106200", "PA": "1501402", "PB": "2507507",
    "PR": "4106902", "PE": "2611606", "PI": "2211001", "RJ": "3304557", "RN": "2408102",
    "RS": "4314902", "RO": "1100205", "RR": "1400100", "SC": "4205407", "SP": "3550308",
    "SE": "2800308", "TO": "1721000",
}

_MUNICIPIOS: dict[str, tuple[str, ...]] = {
    "AC": ("Rio Branco", "Cruzeiro do Sul", "Sena Madureira", "Tarauacá", "Feijó", "Brasiléia",
           "Xapuri", "Epitaciolândia"),
    "AL": ("Maceió", "Arapiraca", "Rio Largo", "Palmeira dos Índios", "Penedo", "União dos Palmares",
           "São Miguel dos Campos", "Delmiro Gouveia", "Coruripe"),
    "AP": ("Macapá", "Santana", "Laranjal do Jari", "Oiapoque", "Mazagão", "Porto Grande"),
    "AM": ("Manaus", "Parintins", "Itacoatiara", "Manacapuru", "Coari", "Tefé", "Tabatinga",
           "Maués", "Humaitá"),
    "BA": ("Salvador", "Feira de Santana", "Vitória da Conquista", "Camaçari", "Juazeiro", "Itabuna",
           "Lauro de Freitas", "Ilhéus", "Jequié", "Teixeira de Freitas", "Barreiras", "Alagoinhas",
           "Porto Seguro", "Simões Filho", "Paulo Afonso", "Santo Antônio de Jesus", "Valença",
           "Irecê", "Guanambi", "Jacobina"),
    "CE": ("Fortaleza", "Caucaia", "Juazeiro do Norte", "Maracanaú", "Sobral", "Crato", "Itapipoca",
           "Maranguape", "Iguatu", "Quixadá", "Crateús", "Aquiraz"),
    "DF": ("Brasília",),
    "ES": ("Vitória", "Vila Velha", "Serra", "Cariacica", "Cachoeiro de Itapemirim", "Linhares",
           "São Mateus", "Colatina", "Guarapari", "Aracruz", "Viana", "Nova Venécia"),
    "GO": ("Goiânia", "Aparecida de Goiânia", "Anápolis", "Rio Verde", "Luziânia",
           "Águas Lindas de Goiás", "Valparaíso de Goiás", "Trindade", "Formosa", "Senador Canedo",
           "Catalão", "Itumbiara", "Jataí"),
    "MA": ("São Luís", "Imperatriz", "São José de Ribamar", "Timon", "Caxias", "Codó",
           "Paço do Lumiar", "Açailândia", "Bacabal", "Balsas", "Santa Inês"),
    "MT": ("Cuiabá", "Várzea Grande", "Rondonópolis", "Sinop", "Tangará da Serra", "Cáceres",
           "Sorriso", "Lucas do Rio Verde", "Primavera do Leste", "Barra do Garças"),
    "MS": ("Campo Grande", "Dourados", "Três Lagoas", "Corumbá", "Ponta Porã", "Naviraí",
           "Nova Andradina", "Aquidauana", "Sidrolândia", "Maracaju"),
    "MG": ("Belo Horizonte", "Uberlândia", "Contagem", "Juiz de Fora", "Betim", "Montes Claros",
           "Ribeirão das Neves", "Uberaba", "Governador Valadares", "Ipatinga", "Sete Lagoas",
           "Divinópolis", "Santa Luzia", "Ibirité", "Poços de Caldas", "Patos de Minas",
           "Pouso Alegre", "Teófilo Otoni", "Barbacena", "Sabará", "Varginha",
           "Conselheiro Lafaiete", "Itabira", "Araguari", "Passos", "Ubá", "Muriaé", "Ituiutaba",
           "Lavras", "Curvelo"),
    "PA": ("Belém", "Ananindeua", "Santarém", "Marabá", "Parauapebas", "Castanhal", "Abaetetuba",
           "Cametá", "Marituba", "Bragança", "Altamira", "Tucuruí", "Paragominas", "Barcarena"),
    "PB": ("João Pessoa", "Campina Grande", "Santa Rita", "Patos", "Bayeux", "Sousa", "Cabedelo",
           "Cajazeiras", "Guarabira", "Sapé"),
    "PR": ("Curitiba", "Londrina", "Maringá", "Ponta Grossa", "Cascavel", "São José dos Pinhais",
           "Foz do Iguaçu", "Colombo", "Guarapuava", "Paranaguá", "Araucária", "Toledo", "Apucarana",
           "Pinhais", "Campo Largo", "Arapongas", "Almirante Tamandaré", "Umuarama", "Piraquara",
           "Cambé", "Campo Mourão", "Francisco Beltrão", "Pato Branco"),
    "PE": ("Recife", "Jaboatão dos Guararapes", "Olinda", "Caruaru", "Petrolina", "Paulista",
           "Cabo de Santo Agostinho", "Camaragibe", "Garanhuns", "Vitória de Santo Antão",
           "Igarassu", "São Lourenço da Mata", "Santa Cruz do Capibaribe", "Abreu e Lima",
           "Serra Talhada"),
    "PI": ("Teresina", "Parnaíba", "Picos", "Piripiri", "Floriano", "Barras", "Campo Maior",
           "União", "Altos", "Esperantina", "Oeiras"),
    "RJ": ("Rio de Janeiro", "São Gonçalo", "Duque de Caxias", "Nova Iguaçu", "Niterói",
           "Belford Roxo", "Campos dos Goytacazes", "São João de Meriti", "Petrópolis",
           "Volta Redonda", "Macaé", "Magé", "Itaboraí", "Cabo Frio", "Maricá", "Nova Friburgo",
           "Barra Mansa", "Angra dos Reis", "Mesquita", "Teresópolis", "Rio das Ostras",
           "Queimados", "Resende", "Araruama"),
    "RN": ("Natal", "Mossoró", "Parnamirim", "São Gonçalo do Amarante", "Macaíba", "Ceará-Mirim",
           "Caicó", "Açu", "Currais Novos", "São José de Mipibu"),
    "RS": ("Porto Alegre", "Caxias do Sul", "Canoas", "Pelotas", "Santa Maria", "Gravataí",
           "Viamão", "Novo Hamburgo", "São Leopoldo", "Rio Grande", "Alvorada", "Passo Fundo",
           "Sapucaia do Sul", "Uruguaiana", "Santa Cruz do Sul", "Cachoeirinha", "Bagé",
           "Bento Gonçalves", "Erechim", "Guaíba", "Lajeado", "Ijuí", "Santo Ângelo", "Sapiranga"),
    "RO": ("Porto Velho", "Ji-Paraná", "Ariquemes", "Vilhena", "Cacoal", "Rolim de Moura", "Jaru",
           "Guajará-Mirim", "Ouro Preto do Oeste", "Pimenta Bueno"),
    "RR": ("Boa Vista", "Rorainópolis", "Caracaraí", "Pacaraima", "Cantá", "Mucajaí",
           "Alto Alegre", "Bonfim"),
    "SC": ("Florianópolis", "Joinville", "Blumenau", "São José", "Itajaí", "Chapecó", "Palhoça",
           "Criciúma", "Jaraguá do Sul", "Lages", "Balneário Camboriú", "Brusque", "Tubarão",
           "São Bento do Sul", "Caçador", "Camboriú", "Navegantes", "Concórdia", "Rio do Sul",
           "Araranguá"),
    "SP": ("São Paulo", "Guarulhos", "Campinas", "São Bernardo do Campo", "Santo André", "Osasco",
           "São José dos Campos", "Ribeirão Preto", "Sorocaba", "Mauá", "São José do Rio Preto",
           "Mogi das Cruzes", "Santos", "Diadema", "Jundiaí", "Piracicaba", "Carapicuíba", "Bauru",
           "Itaquaquecetuba", "São Vicente", "Franca", "Praia Grande", "Guarujá", "Taubaté",
           "Limeira", "Suzano", "Taboão da Serra", "Sumaré", "Barueri", "Embu das Artes",
           "São Carlos", "Marília", "Indaiatuba", "Cotia", "Americana", "Jacareí", "Araraquara",
           "Presidente Prudente", "Itapevi", "Hortolândia", "Rio Claro", "Araçatuba",
           "Santa Bárbara d'Oeste", "Ferraz de Vasconcelos", "Francisco Morato",
           "Itapecerica da Serra", "Itu", "Bragança Paulista", "Pindamonhangaba", "Botucatu"),
    "SE": ("Aracaju", "Nossa Senhora do Socorro", "Lagarto", "Itabaiana", "São Cristóvão",
           "Estância", "Tobias Barreto", "Simão Dias", "Propriá", "Nossa Senhora da Glória"),
    "TO": ("Palmas", "Araguaína", "Gurupi", "Porto Nacional", "Paraíso do Tocantins", "Araguatins",
           "Colinas do Tocantins", "Guaraí", "Tocantinópolis", "Dianópolis"),
}

# Expected records per weekday for Pregão Eletrônico; other modalidades scale from it.
_UF_VOLUME: dict[str, float] = {
    "SP": 60, "MG": 55, "RS": 34, "PR": 34, "BA": 30, "RJ": 26, "SC": 24, "GO": 17, "PE": 16,
    "CE": 16, "PA": 13, "MA": 12, "MT": 12, "ES": 11, "PB": 10, "PI": 10, "MS": 9, "RN": 9,
    "DF": 8, "AL": 7, "TO": 7, "RO": 7, "AM": 7, "SE": 6, "AC": 2.5, "AP": 1.6, "RR": 1.6,
}

_MODALIDADE_VOLUME: dict[int, float] = {
    6: 1.0, 8: 0.35, 4: 0.22, 7: 0.10, 9: 0.06, 5: 0.05, 12: 0.03, 1: 0.02,
    13: 0.01, 3: 0.01, 10: 0.005, 11: 0.005, 2: 0.003,
}

_WEEKEND_FACTOR = 0.03
_HOLIDAY_FACTOR = 0.05
_FIXED_HOLIDAYS = {(1, 1), (4, 21), (5, 1), (9, 7), (10, 12), (11, 2), (11, 15), (11, 20), (12, 25)}

# Record histories. In the real sample about 3 in 100 records are revogada, anulada or suspensa
# (in proportions near 42 : 14 : 44); here a "changed" record is one of those or one whose
# proposal dates moved, changed 1 to 10 days after publication. Of the others, most were never
# edited; the rest had an edit (a document, a corrected field, its items) within 20 days, which
# moves `dataAtualizacaoGlobal` and, for an edit of the contratação itself, `dataAtualizacao`.
_CHANGED_SHARE = 0.03
_CHANGE_KINDS: tuple[tuple[int | None, float], ...] = ((2, 35), (3, 12), (4, 38), (None, 15))  # None: dates moved
_EDITED_SHARE = 0.20
MAX_UPDATE_LAG_DAYS = 20  # no demo record changes later than this after its publication
# `/atualizacao` answers from records published up to this many days before the window.
ATUALIZACAO_LOOKBACK_DAYS = 60
# `/proposta` answers from records published up to this many days before today. A demo record
# closes at most 28 days after its publication day, plus 2 when that falls on a weekend (30);
# `_move_proposal_dates` adds at most 10 + 8 days to that, plus 2 again for a weekend: 50. So no
# record published earlier can still be open today.
PROPOSTA_LOOKBACK_DAYS = 50

SITUACOES: dict[int, str] = {1: "Divulgada no PNCP", 2: "Revogada", 3: "Anulada", 4: "Suspensa"}
MODOS_DISPUTA: dict[int, str] = {
    1: "Aberto", 2: "Fechado", 3: "Aberto-Fechado", 4: "Dispensa Com Disputa", 5: "Não se aplica",
    6: "Fechado-Aberto",
}
INSTRUMENTOS: dict[int, str] = {
    1: "Edital", 2: "Aviso de Contratação Direta", 3: "Ato que autoriza a Contratação Direta",
}

_CONCORRENCIA = "concorrência: bens e serviços especiais, obras e serviços de engenharia"
# (codigo, nome, descricao) of the legal basis, by modalidade; wording is ours.
_AMPARO: dict[int, tuple[int, str, str]] = {
    1: (5, "Lei 14.133/2021, Art. 28, V", "leilão: alienação de bens imóveis ou de bens móveis inservíveis"),
    2: (4, "Lei 14.133/2021, Art. 28, IV", "diálogo competitivo: contratação de obras, serviços e compras inovadoras"),
    3: (3, "Lei 14.133/2021, Art. 28, III", "concurso: escolha de trabalho técnico, científico ou artístico"),
    4: (2, "Lei 14.133/2021, Art. 28, II", _CONCORRENCIA),
    5: (2, "Lei 14.133/2021, Art. 28, II", _CONCORRENCIA),
    6: (1, "Lei 14.133/2021, Art. 28, I", "pregão: aquisição de bens e serviços comuns"),
    7: (1, "Lei 14.133/2021, Art. 28, I", "pregão: aquisição de bens e serviços comuns"),
    8: (19, "Lei 14.133/2021, Art. 75, II", "contratação direta abaixo do limite legal para compras e serviços"),
    9: (6, "Lei 14.133/2021, Art. 74, I", "inexigibilidade: fornecedor exclusivo"),
    10: (30, "Lei 14.133/2021, Art. 81", "procedimento de manifestação de interesse"),
    11: (31, "Lei 14.133/2021, Art. 80", "pré-qualificação de licitantes e de bens"),
    12: (32, "Lei 14.133/2021, Art. 79", "credenciamento de interessados"),
    13: (5, "Lei 14.133/2021, Art. 28, V", "leilão: alienação de bens imóveis ou de bens móveis inservíveis"),
}

# --------------------------------------------------------------------------------------------
# Objeto texts: themes of goods (bens) and services (servicos). Every phrase is our own.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Theme:
    bens: tuple[str, ...]
    servicos: tuple[str, ...]
    secretarias: tuple[str, ...]
    weight: float
    scale: float  # multiplies the typical budget


THEMES: dict[str, _Theme] = {
    "uniformes": _Theme(
        bens=(
            "uniformes escolares (camisetas, bermudas, calças e agasalhos) para os alunos da rede municipal",
            "fardamento completo para a Guarda Civil Municipal",
            "jalecos e aventais para os profissionais das unidades de saúde",
            "uniformes profissionais e botas de segurança para os servidores operacionais",
            "camisetas personalizadas para campanhas e eventos institucionais",
            "kits de uniforme escolar com mochila, meias e tênis",
            "uniformes esportivos para as equipes das escolinhas municipais",
        ),
        servicos=("confecção e fornecimento de uniformes para os servidores municipais",),
        secretarias=("Educação", "Segurança Pública", "Saúde", "Administração"),
        weight=6, scale=0.8,
    ),
    "alimentacao": _Theme(
        bens=(
            "gêneros alimentícios destinados à merenda escolar",
            "gêneros alimentícios perecíveis e não perecíveis",
            "hortifrutigranjeiros para a alimentação escolar",
            "carnes bovina, suína e de frango congeladas",
            "leite e derivados para o programa de alimentação escolar",
            "pães, biscoitos e bolos para as unidades educacionais",
            "água mineral em garrafões de 20 litros e copos descartáveis",
            "café, açúcar e gêneros para copa e cozinha",
            "cestas básicas para famílias em situação de vulnerabilidade",
        ),
        servicos=(
            "fornecimento de refeições prontas tipo marmitex",
            "preparo e distribuição da alimentação escolar, com fornecimento de gêneros",
        ),
        secretarias=("Educação", "Assistência Social", "Saúde"),
        weight=9, scale=1.0,
    ),
    "informatica": _Theme(
        bens=(
            "computadores desktop, notebooks e monitores",
            "equipamentos de informática (computadores, notebooks e periféricos)",
            "impressoras multifuncionais e scanners",
            "tablets educacionais para os estudantes da rede municipal",
            "servidores de rede, switches e nobreaks para o datacenter",
            "suprimentos de informática (toners e cartuchos)",
        ),
        servicos=(
            "locação de impressoras multifuncionais com outsourcing de impressão",
            "manutenção preventiva e corretiva de computadores e equipamentos de informática",
        ),
        secretarias=("Administração", "Educação", "Fazenda", "Tecnologia da Informação"),
        weight=7, scale=1.2,
    ),
    "software": _Theme(
        bens=(
            "licenças de software de produtividade e de sistema operacional",
            "licenças de uso de software antivírus para as estações de trabalho",
        ),
        servicos=(
            "licenciamento de software de gestão pública integrada (contabilidade, folha de pagamento e tributos)",
            "locação de sistema informatizado de gestão escolar",
            "desenvolvimento, implantação e manutenção de software",
            "sistema de gestão da saúde com prontuário eletrônico do paciente",
            "solução de software em nuvem para gestão de processos administrativos",
        ),
        secretarias=("Administração", "Fazenda", "Saúde", "Tecnologia da Informação"),
        weight=5, scale=1.5,
    ),
    "mobiliario": _Theme(
        bens=(
            "mobiliário escolar (conjuntos de mesa e cadeira para alunos e professores)",
            "mobiliário de escritório (mesas, cadeiras giratórias e armários de aço)",
            "cadeiras, longarinas e estantes para as unidades administrativas",
            "armários, arquivos de aço e gaveteiros",
            "móveis planejados para as unidades de saúde",
            "colchões, camas e beliches para o abrigo municipal",
        ),
        servicos=(),
        secretarias=("Educação", "Administração", "Saúde", "Assistência Social"),
        weight=5, scale=0.9,
    ),
    "expediente": _Theme(
        bens=(
            "material de expediente (papel A4, canetas, grampeadores e pastas)",
            "papel sulfite A4 e papel reciclado",
            "material de escritório e papelaria",
            "material escolar (cadernos, lápis, borrachas e mochilas)",
            "envelopes, etiquetas e formulários",
        ),
        servicos=(),
        secretarias=("Administração", "Educação"),
        weight=5, scale=0.4,
    ),
    "limpeza": _Theme(
        bens=(
            "material de limpeza e higiene (detergente, desinfetante, água sanitária e sacos de lixo)",
            "produtos de limpeza e descartáveis",
            "papel higiênico, papel toalha e sabonete líquido",
        ),
        servicos=(
            "limpeza, conservação e higienização predial, com fornecimento de mão de obra, materiais e equipamentos",
            "limpeza hospitalar e desinfecção de ambientes",
            "limpeza de vias públicas, capina e roçada",
        ),
        secretarias=("Administração", "Saúde", "Educação", "Obras"),
        weight=7, scale=1.3,
    ),
    "saude": _Theme(
        bens=(
            "medicamentos da farmácia básica",
            "medicamentos para atendimento das unidades básicas de saúde",
            "material médico-hospitalar (seringas, luvas de procedimento, gazes e cateteres)",
            "insumos e materiais odontológicos",
            "equipamentos hospitalares (monitores multiparâmetros e desfibriladores)",
            "reagentes e material de laboratório para análises clínicas",
            "oxigênio medicinal e gases hospitalares",
        ),
        servicos=(
            "realização de exames laboratoriais e de imagem",
            "manutenção preventiva e corretiva de equipamentos médico-hospitalares",
        ),
        secretarias=("Saúde",),
        weight=10, scale=1.2,
    ),
    "seguranca": _Theme(
        bens=(
            "câmeras de segurança, gravadores e acessórios para o sistema de videomonitoramento",
            "coletes balísticos para a Guarda Civil Municipal",
            "equipamentos de segurança eletrônica (alarmes e sensores de presença)",
        ),
        servicos=(
            "vigilância patrimonial armada e desarmada",
            "monitoramento eletrônico com instalação de câmeras de videomonitoramento (CFTV)",
            "segurança eletrônica com instalação e manutenção de alarmes",
        ),
        secretarias=("Segurança Pública", "Administração", "Educação"),
        weight=4, scale=1.4,
    ),
    "transporte": _Theme(
        bens=(
            "veículos tipo hatch, zero quilômetro, para a frota municipal",
            "ônibus escolar para o transporte de alunos",
            "ambulância tipo A de simples remoção",
            "combustíveis (gasolina comum, etanol e óleo diesel S10)",
            "pneus, câmaras de ar e protetores para a frota",
            "peças e acessórios para manutenção da frota de veículos",
        ),
        servicos=(
            "locação de veículos com e sem motorista",
            "manutenção preventiva e corretiva da frota de veículos, com fornecimento de peças",
            "transporte escolar de alunos da zona rural",
            "gerenciamento do abastecimento de combustível da frota por cartão magnético",
        ),
        secretarias=("Administração", "Educação", "Saúde", "Obras", "Transportes"),
        weight=8, scale=1.3,
    ),
    "manutencao_predial": _Theme(
        bens=(
            "material de construção (cimento, areia, tijolos e ferragens)",
            "material hidráulico para manutenção dos prédios públicos",
            "tintas e material de pintura",
        ),
        servicos=(
            "manutenção predial preventiva e corretiva, com fornecimento de materiais",
            "reforma e ampliação de escola municipal",
            "manutenção de aparelhos de ar condicionado",
            "pintura e pequenos reparos em prédios públicos",
            "manutenção de elevadores e plataformas de acessibilidade",
        ),
        secretarias=("Obras", "Educação", "Administração", "Saúde"),
        weight=6, scale=1.5,
    ),
    "eletrico": _Theme(
        bens=(
            "material elétrico (cabos, disjuntores, tomadas e interruptores)",
            "lâmpadas e luminárias de LED",
            "material elétrico para manutenção da iluminação pública",
            "transformadores, postes e materiais para rede de distribuição",
        ),
        servicos=(
            "manutenção da rede de iluminação pública",
            "instalação de sistema de geração de energia solar fotovoltaica",
        ),
        secretarias=("Obras", "Infraestrutura", "Administração"),
        weight=5, scale=1.1,
    ),
    "outros": _Theme(
        bens=(
            "brinquedos pedagógicos para a educação infantil",
            "material esportivo para as escolinhas de esportes",
            "instrumentos musicais para a banda municipal",
            "tubos de concreto para drenagem pluvial",
            "mudas de árvores nativas para arborização urbana",
            "kits de enxoval para gestantes",
            "material de sinalização viária (placas e tintas para demarcação)",
            "equipamentos de playground e academias ao ar livre",
            "urnas funerárias para o serviço social",
            "máquinas pesadas (retroescavadeira e motoniveladora)",
        ),
        servicos=(
            "pavimentação asfáltica e drenagem de vias urbanas",
            "execução de obra de construção de unidade básica de saúde",
            "organização de eventos e festividades do aniversário do município",
            "assessoria e consultoria contábil",
            "consultoria em gestão tributária e recuperação de créditos",
            "coleta e transporte de resíduos sólidos urbanos",
            "publicidade institucional e comunicação",
            "locação de palco, som e iluminação para eventos",
            "elaboração de projetos de engenharia e arquitetura",
            "recuperação e cascalhamento de estradas vicinais",
            "serviços gráficos e de impressão",
            "topografia e georreferenciamento de imóveis rurais",
            "assessoria jurídica especializada",
            "capacitação e treinamento de servidores",
            "apresentações artísticas e shows musicais",
            "construção de ponte em concreto armado",
        ),
        secretarias=("Obras", "Cultura", "Administração", "Fazenda", "Meio Ambiente", "Esportes"),
        weight=25, scale=1.6,
    ),
}

_COMPLEMENTOS: tuple[str, ...] = (
    ", para atender às necessidades da Secretaria Municipal de {secretaria}",
    ", conforme condições, quantidades e exigências estabelecidas no Termo de Referência",
    ", conforme especificações constantes do edital e seus anexos",
    ", pelo período de 12 (doze) meses",
    " para uso da Secretaria Municipal de {secretaria}",
    "",
    "",
)

_INFORMACOES: tuple[str, ...] = (
    "Edital e anexos disponíveis no portal da transparência do órgão.",
    "Pedidos de esclarecimento e impugnações até 3 (três) dias úteis antes da abertura da sessão.",
    "A sessão pública será realizada no sistema eletrônico indicado no edital.",
    "Participação exclusiva para microempresas e empresas de pequeno porte nos itens indicados.",
    "Cota reservada para ME/EPP conforme art. 48 da LC 123/2006.",
    "",
)

# (usuarioNome, link template) of the systems records come from. Domains of our own.
_SISTEMAS: tuple[tuple[str, str], ...] = (
    ("Compras.gov.br", "https://compras.demo.gov.br/compra/{unidade}{mod:02d}{numero}{ano}"),
    ("Compras.gov.br", "https://compras.demo.gov.br/compra/{unidade}{mod:02d}{numero}{ano}"),
    ("Portal de Compras Públicas", "https://portal-compras.demo.com.br/processos/{uf}/{ano}/{numero}"),
    ("BLL Compras", "https://bll.demo.org.br/processo/{cnpj}/{numero}-{ano}"),
    ("Licitanet", "https://licitanet.demo.com.br/edital/{numero}{ano}"),
)


def _ascii_upper(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").upper()


def _ibge_check_digit(six: str) -> str:
    total = 0
    for i, ch in enumerate(six):
        product = int(ch) * (1 if i % 2 == 0 else 2)
        total += product // 10 + product % 10
    return str((10 - total % 10) % 10)


def _cnpj(root: str, branch: str = "0001") -> str:
    base = root + branch
    digits = [int(c) for c in base]
    for weights in ((5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2), (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)):
        remainder = sum(d * w for d, w in zip(digits, weights)) % 11
        digits.append(0 if remainder < 2 else 11 - remainder)
    return "".join(map(str, digits))


@dataclass(frozen=True, slots=True)
class _Municipio:
    nome: str
    ibge: str


@dataclass(frozen=True, slots=True)
class _Orgao:
    cnpj: str
    razao_social: str
    poder: str
    esfera: str
    unidades: tuple[tuple[str, str, _Municipio], ...]  # (codigoUnidade, nomeUnidade, municipio)
    sistema: int  # index in _SISTEMAS; most órgãos publish through one system
    processo_style: int


@functools.cache
def _municipios(uf: str) -> tuple[_Municipio, ...]:
    prefix = UF_IBGE[uf]
    rng = random.Random(f"{_SEED_VERSION}:ibge:{uf}")
    used = {_CAPITAL_IBGE[uf]}
    result = [_Municipio(_MUNICIPIOS[uf][0], _CAPITAL_IBGE[uf])]
    for nome in _MUNICIPIOS[uf][1:]:
        while True:
            six = prefix + f"{rng.randrange(0, 10000):04d}"
            code = six + _ibge_check_digit(six)
            if code not in used:
                break
        used.add(code)
        result.append(_Municipio(nome, code))
    return tuple(result)


@functools.cache
def _orgaos(uf: str) -> tuple[tuple[_Orgao, ...], tuple[float, ...]]:
    """The órgãos of a UF with their publishing weights; fixed for a UF."""
    rng = random.Random(f"{_SEED_VERSION}:orgaos:{uf}")
    municipios = _municipios(uf)
    capital = municipios[0]
    prep = _UF_PREP[uf]
    uf_nome = _ascii_upper(UFS[uf])
    orgaos: list[_Orgao] = []
    weights: list[float] = []
    roots: set[str] = set()

    def cnpj() -> str:
        while True:
            root = f"{rng.randrange(1_000_000, 99_999_999):08d}"
            if root not in roots:
                roots.add(root)
                return _cnpj(root)

    def add(razao: str, poder: str, esfera: str, unidades: list[tuple[str, str, _Municipio]], weight: float) -> None:
        orgaos.append(_Orgao(
            cnpj=cnpj(), razao_social=razao, poder=poder, esfera=esfera, unidades=tuple(unidades),
            sistema=rng.randrange(len(_SISTEMAS)), processo_style=rng.randrange(5),
        ))
        weights.append(weight)

    def unidade_code(width: int) -> str:
        return str(rng.randrange(10 ** (width - 1), 10 ** width))

    if uf != "DF":
        for i, mun in enumerate(municipios):
            nome = _ascii_upper(mun.nome)
            unidades = [(unidade_code(rng.choice((1, 4, 6))), f"PREFEITURA MUNICIPAL DE {nome}", mun)]
            if i < 6:
                unidades += [
                    (unidade_code(4), "SECRETARIA MUNICIPAL DE SAUDE", mun),
                    (unidade_code(4), "SECRETARIA MUNICIPAL DE EDUCACAO", mun),
                    (unidade_code(4), f"FUNDO MUNICIPAL DE SAUDE DE {nome}", mun),
                ]
            size = 1.0 / (i + 1) ** 0.7
            add(f"MUNICIPIO DE {nome}", rng.choice("NNNE"), "M", unidades, 60 * size * (2.0 if i == 0 else 1.0))
            if i < 3:
                add(f"CAMARA MUNICIPAL DE {nome}", "L", "M",
                    [(unidade_code(6), f"CAMARA MUNICIPAL DE {nome}", mun)], 1.5)
        esfera_estadual = "E"
    else:
        esfera_estadual = "D"
    estado = f"ESTADO {prep} {uf_nome}" if uf != "DF" else "DISTRITO FEDERAL"
    for secretaria in ("SAUDE", "EDUCACAO", "SEGURANCA PUBLICA", "ADMINISTRACAO", "INFRAESTRUTURA"):
        add(f"SECRETARIA DE ESTADO DE {secretaria} {prep} {uf_nome}", "E", esfera_estadual,
            [(unidade_code(6), f"SECRETARIA DE ESTADO DE {secretaria}", capital)], 4 if uf != "DF" else 12)
    add(f"POLICIA MILITAR DO {estado}", "E", esfera_estadual,
        [(unidade_code(6), "DIRETORIA DE APOIO LOGISTICO", capital)], 2 if uf != "DF" else 6)
    add(f"TRIBUNAL DE JUSTICA DO {estado}", "J", esfera_estadual,
        [(unidade_code(6), "DIRETORIA DE COMPRAS E CONTRATOS", capital)], 1.5)
    federais = [
        (f"UNIVERSIDADE FEDERAL {prep} {uf_nome}", "E", f"UF{uf}"),
        (f"INSTITUTO FEDERAL DE EDUCACAO, CIENCIA E TECNOLOGIA {prep} {uf_nome}", "E", f"IF{uf}"),
        (f"SUPERINTENDENCIA FEDERAL DE AGRICULTURA {prep} {uf_nome}", "E", f"SFA-{uf}"),
    ]
    if uf == "DF":
        federais += [
            ("MINISTERIO DA SAUDE", "E", "MS"), ("MINISTERIO DA EDUCACAO", "E", "MEC"),
            ("COMANDO DA AERONAUTICA", "E", "COMAER"), ("TRIBUNAL DE CONTAS DA UNIAO", "L", "TCU"),
            ("CAMARA DOS DEPUTADOS", "L", "CD"), ("SUPERIOR TRIBUNAL DE JUSTICA", "J", "STJ"),
        ]
    for razao, poder, sigla in federais:
        unidades = [(f"{rng.randrange(150000, 160000)}", f"{sigla} - {_ascii_upper(m.nome)}", m)
                    for m in municipios[:3]]
        add(razao, poder, "F", unidades, 3 if uf != "DF" else 10)
    return tuple(orgaos), tuple(weights)


# --------------------------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------------------------


def _rng(*parts: object) -> random.Random:
    """A generator seeded from a string: the same in every process (no salted hash())."""
    return random.Random(":".join([_SEED_VERSION, *map(str, parts)]))


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 40:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def expected_count(uf: str, modalidade: int, day: date) -> float:
    """Mean number of records for (uf, modalidade, day) before noise."""
    lam = _UF_VOLUME[uf] * _MODALIDADE_VOLUME.get(modalidade, 0.0)
    if day.weekday() >= 5:
        lam *= _WEEKEND_FACTOR
    if (day.month, day.day) in _FIXED_HOLIDAYS:
        lam *= _HOLIDAY_FACTOR
    return lam


def _valor(rng: random.Random, modalidade: int, scale: float) -> float:
    mu = math.log(180_000 * scale)
    if modalidade in (4, 5):
        mu += 1.2
    elif modalidade in (8, 9):
        mu -= 1.6
    elif modalidade in (1, 13):
        mu -= 0.5
    value = math.exp(rng.gauss(mu, 1.35))
    value = min(max(value, 2_000.0), 60_000_000.0)
    style = rng.random()
    if style < 0.30:
        step = 1000 if value >= 20_000 else 100
        value = max(step, round(value / step) * step)
    elif style < 0.45:
        value = round(value, -1)
    else:
        value = round(value, 2)
    return float(value)


def _objeto(rng: random.Random, theme: _Theme, srp: bool, municipio: str) -> str:
    servico = bool(theme.servicos) and (not theme.bens or rng.random() < 0.45)
    secretaria = rng.choice(theme.secretarias)
    complemento = rng.choice(_COMPLEMENTOS).format(secretaria=secretaria)
    if "Secretaria" in complemento and rng.random() < 0.3:
        complemento += f" do Município de {municipio}"
    if servico:
        item = rng.choice(theme.servicos)
        forms = [
            "Contratação de empresa especializada em {item}",
            "Contratação de empresa especializada para prestação de serviços de {item}",
            "Prestação de serviços de {item}",
            "Contratação de serviços de {item}",
        ]
        if srp:
            forms = ["Registro de preços para contratação de empresa especializada em {item}",
                     "Registro de preços para futura e eventual contratação de serviços de {item}"]
    else:
        item = rng.choice(theme.bens)
        forms = ["Aquisição de {item}", "Aquisição de {item}", "Fornecimento de {item}"]
        if srp:
            forms = ["Registro de preços para futura e eventual aquisição de {item}",
                     "Registro de preços para aquisição de {item}",
                     "Registro de preços para futura e eventual aquisição de {item}"]
    text = rng.choice(forms).format(item=item) + complemento + "."
    style = rng.random()
    if style < 0.13:
        text = text.upper()
    elif style < 0.17:
        text = text + " "  # stray whitespace, as real records have
    elif style < 0.19:
        text = " " + text
    elif style < 0.20:
        text = text + "\nDemais especificações no Termo de Referência."
    return text


def _processo(rng: random.Random, style: int, ano: int, numero: int, orgao: _Orgao) -> str:
    if style == 0:
        return f"{numero}/{ano}"
    if style == 1:
        return f"{rng.randrange(1, 99):02d}.{rng.randrange(0, 999999):06d}/{ano % 100:02d}-{rng.randrange(10, 99)}"
    if style == 2:
        return f"PA {rng.randrange(1, 999):03d}/{ano}"
    if style == 3:
        return f"{orgao.cnpj[:4]}{ano}{rng.randrange(0, 99999):05d}"
    return f"PRC-{ano}/{rng.randrange(1, 9999):04d}"


_THEME_NAMES = tuple(THEMES)
_THEME_WEIGHTS = tuple(THEMES[name].weight for name in _THEME_NAMES)


def generate_records(uf: str, modalidade: int, day: date) -> list[Record]:
    """The demo records of one UF and modalidade published on `day`, in PNCP's wire format.

    Deterministic: seeded by (uf, modalidade, day) only. Returns fresh dicts on every call.
    """
    uf = uf.upper()
    if uf not in UFS:
        raise ValueError(f"unknown UF: {uf!r}")
    if modalidade not in MODALIDADES:
        raise ValueError(f"unknown modalidade: {modalidade!r}")
    rng = _rng(uf, modalidade, day.isoformat())
    lam = expected_count(uf, modalidade, day) * rng.uniform(0.6, 1.4)
    count = _poisson(rng, lam)
    if count == 0:
        return []
    orgaos, weights = _orgaos(uf)
    doy = day.timetuple().tm_yday
    used: dict[tuple[str, int], int] = {}
    records: list[Record] = []
    uf_nome = UFS[uf]
    modalidade_nome = MODALIDADES[modalidade]
    amparo = _AMPARO[modalidade]
    chosen = rng.choices(range(len(orgaos)), weights=weights, k=count)
    publish_times: list[datetime] = []
    for _ in range(count):
        if rng.random() < 0.6:
            hour = 7
        else:
            hour = rng.randrange(8, 19)
        publish_times.append(datetime(day.year, day.month, day.day, hour, rng.randrange(60), rng.randrange(60)))
    publish_times.sort()
    for orgao_index, publicado in zip(chosen, publish_times):
        orgao = orgaos[orgao_index]
        codigo_unidade, nome_unidade, municipio = rng.choice(orgao.unidades)
        ano = day.year - 1 if rng.random() < 0.03 else day.year
        # Unique per órgão: the day of year, the modalidade and a per-call counter.
        key = (orgao.cnpj, ano)
        j = used.get(key, 0)
        used[key] = j + 1
        j = j if ano == day.year else 148 - j
        sequencial = doy * 2000 + (modalidade - 1) * 150 + (j % 149) + 1
        theme = THEMES[rng.choices(_THEME_NAMES, weights=_THEME_WEIGHTS)[0]]
        srp = rng.random() < (0.45 if modalidade in (6, 7) else 0.12)
        objeto = _objeto(rng, theme, srp, municipio.nome)

        # This draw once picked the situação; it is kept, like every draw of `rng`, so that the
        # other fields (and the later records of the day) stay what they were. The situação
        # and the update dates now come from `_history`, with a generator of their own.
        never_homologated = rng.random() < 0.05

        estimado = 0.0 if rng.random() < 0.10 else _valor(rng, modalidade, theme.scale)
        homologado = None
        if estimado > 0 and not never_homologated and rng.random() < 0.22:
            homologado = round(estimado * rng.uniform(0.55, 1.0), 2)
            if rng.random() < 0.05:
                homologado = estimado

        abertura: datetime | None = None
        encerramento: datetime | None = None
        if rng.random() >= (0.6 if modalidade == 9 else 0.08):
            open_day = day + timedelta(days=rng.choice((0, 0, 0, 1, 1, 2)))
            abertura = datetime(open_day.year, open_day.month, open_day.day, rng.choice((8, 8, 8, 9, 10)))
            if abertura <= publicado:
                abertura = (publicado + timedelta(minutes=rng.randrange(5, 120))).replace(second=0)
            close_day = day + timedelta(days=rng.randrange(5, 29))
            if close_day.weekday() >= 5:
                close_day += timedelta(days=7 - close_day.weekday())
            hour, minute = rng.choice(((9, 0), (9, 30), (10, 0), (10, 0), (10, 30), (11, 0), (14, 0), (8, 30)))
            encerramento = datetime(close_day.year, close_day.month, close_day.day, hour, minute)

        _skip_former_update_draws(rng, never_homologated)

        sistema_index = orgao.sistema if rng.random() < 0.85 else rng.randrange(len(_SISTEMAS))
        usuario, link_template = _SISTEMAS[sistema_index]
        numero_compra = (90000 + j + (modalidade * 7 + doy) % 900) if usuario == "Compras.gov.br" else (
            (doy * 3 + j) % 999 + 1)
        roll = rng.random()
        if roll < 0.15:
            link: str | None = None
        elif roll < 0.20:
            link = ""
        elif roll < 0.21:
            link = "string"  # the API's own placeholder, left in by some systems
        else:
            link = link_template.format(unidade=codigo_unidade, mod=modalidade, numero=numero_compra, ano=ano,
                                        uf=uf.lower(), cnpj=orgao.cnpj)

        if modalidade in (4, 5):
            modo = rng.choice((1, 1, 2, 3))
        elif modalidade in (6, 7):
            modo = rng.choices((1, 3, 6), weights=(45, 50, 5))[0]
        elif modalidade == 8:
            modo = rng.choice((4, 5))
        else:
            modo = 5 if modalidade in (9, 12) else rng.choice((1, 2, 5))
        instrumento = 1 if modalidade not in (8, 9) else (2 if modalidade == 8 and rng.random() < 0.7 else 3)

        presencial = modalidade in (5, 7, 13)
        informacao = rng.choice(_INFORMACOES) if rng.random() >= 0.05 else None
        records.append({
            "amparoLegal": {"codigo": amparo[0], "descricao": amparo[2], "nome": amparo[1]},
            "anoCompra": ano,
            "dataAberturaProposta": abertura.strftime(_FMT) if abertura else None,
            "dataAtualizacao": publicado.strftime(_FMT),
            "dataAtualizacaoGlobal": publicado.strftime(_FMT),
            "dataEncerramentoProposta": encerramento.strftime(_FMT) if encerramento else None,
            "dataInclusao": publicado.strftime(_FMT),
            "dataPublicacaoPncp": publicado.strftime(_FMT),
            "emendaParlamentar": None if rng.random() >= 0.01 else False,
            "fontesOrcamentarias": [],
            "informacaoComplementar": informacao,
            "justificativaPresencial": (
                "Licitação presencial justificada pela realidade local e pela participação de fornecedores da região."
                if presencial else (None if rng.random() < 0.85 else "")),
            "linkProcessoEletronico": None,
            "linkSistemaOrigem": link,
            "modalidadeId": modalidade,
            "modalidadeNome": modalidade_nome,
            "modoDisputaId": modo,
            "modoDisputaNome": MODOS_DISPUTA[modo],
            "numeroCompra": str(numero_compra),
            "numeroControlePNCP": f"{orgao.cnpj}-1-{sequencial:06d}/{ano}",
            "objetoCompra": objeto,
            "orgaoEntidade": {
                "cnpj": orgao.cnpj,
                "esferaId": orgao.esfera,
                "poderId": orgao.poder,
                "razaoSocial": orgao.razao_social,
            },
            "orgaoSubRogado": None,
            "processo": _processo(rng, orgao.processo_style, ano, numero_compra, orgao),
            "sequencialCompra": sequencial,
            "situacaoCompraId": 1,
            "situacaoCompraNome": SITUACOES[1],
            "srp": srp,
            "tipoInstrumentoConvocatorioCodigo": instrumento,
            "tipoInstrumentoConvocatorioNome": INSTRUMENTOS[instrumento],
            "unidadeOrgao": {
                "codigoIbge": municipio.ibge,
                "codigoUnidade": codigo_unidade,
                "municipioNome": municipio.nome,
                "nomeUnidade": nome_unidade,
                "ufNome": uf_nome,
                "ufSigla": uf,
            },
            "unidadeSubRogada": None,
            "usuarioNome": usuario,
            "valorTotalEstimado": estimado,
            "valorTotalHomologado": homologado,
        })
        _history(records[-1], publicado, _rng("historico", uf, modalidade, day.isoformat(), len(records)))
    return records


def _skip_former_update_draws(rng: random.Random, never_homologated: bool) -> None:
    """Consume what earlier versions drew here for the update dates, and nothing else.

    Those dates come from `_history` now; drawing the same numbers keeps every field drawn
    after them, and every later record of the day, unchanged.
    """
    if never_homologated:
        rng.randrange(1, 10)
        rng.randrange(36000)
    elif rng.random() < 0.15:
        rng.randrange(60, 5 * 86400)
    if rng.random() < 0.4:
        rng.randrange(60, 20 * 86400)


def _history(record: Record, publicado: datetime, rng: random.Random) -> None:
    """Bring a just-generated record (as published) to its current state, in place.

    Changed records (`_CHANGED_SHARE`) were revogada, anulada, suspensa or had their proposal
    dates moved, 1 to 10 days after publication; neither kind keeps a homologated value. Of the
    others, `_EDITED_SHARE` had a later edit within `MAX_UPDATE_LAG_DAYS`; the rest keep their
    publication moment as update date. `rng` is the record's own, so this never shifts the
    draws of the record's other fields.
    """
    opening = record["dataAberturaProposta"]
    if rng.random() < _CHANGED_SHARE:
        kinds = [(kind, weight) for kind, weight in _CHANGE_KINDS if kind is not None or opening is not None]
        situacao = rng.choices([k for k, _ in kinds], weights=[w for _, w in kinds])[0]
        changed = publicado + timedelta(days=1, seconds=rng.randrange(9 * 86400))
        if situacao is None:
            _move_proposal_dates(record, publicado, changed, rng)
        else:
            record["situacaoCompraId"] = situacao
            record["situacaoCompraNome"] = SITUACOES[situacao]
        record["valorTotalHomologado"] = None
        record["dataAtualizacao"] = record["dataAtualizacaoGlobal"] = changed.strftime(_FMT)
        return
    if rng.random() < _EDITED_SHARE:
        # Log-uniform from a minute to MAX_UPDATE_LAG_DAYS: most edits come soon after publication.
        lag = math.exp(rng.uniform(math.log(60), math.log(MAX_UPDATE_LAG_DAYS * 86400)))
        edited = (publicado + timedelta(seconds=lag)).strftime(_FMT)
        record["dataAtualizacaoGlobal"] = edited
        if rng.random() < 0.5:  # the contratação itself, not only its documents or items
            record["dataAtualizacao"] = edited


def _move_proposal_dates(record: Record, publicado: datetime, changed: datetime, rng: random.Random) -> None:
    """Postpone both proposal dates to a few days after `changed`, keeping their gap."""
    opening = datetime.fromisoformat(record["dataAberturaProposta"])
    closing = datetime.fromisoformat(record["dataEncerramentoProposta"])
    shift = timedelta(days=(changed.date() - publicado.date()).days + rng.randrange(3, 9))
    opening, closing = opening + shift, closing + shift
    if closing.weekday() >= 5:
        closing += timedelta(days=7 - closing.weekday())
    record["dataAberturaProposta"] = opening.strftime(_FMT)
    record["dataEncerramentoProposta"] = closing.strftime(_FMT)


@functools.lru_cache(maxsize=4096)
def recent_records(count: int, last_day: date, modalidades: Sequence[int] = (4, 5, 6, 7)) -> list[Record]:
    """The first `count` records going back day by day from `last_day`, every UF each day:
    a realistic batch for benchmarks and tests."""
    records: list[Record] = []
    day = last_day
    while len(records) < count:
        for uf in UFS:
            for modalidade in modalidades:
                records.extend(generate_records(uf, modalidade, day))
        day -= timedelta(days=1)
    return records[:count]


def _day_records(uf: str, modalidade: int, day: date) -> tuple[Record, ...]:
    """Memoized records of a day; shared, so only ever serialised, never handed out to mutate."""
    return tuple(generate_records(uf, modalidade, day))


@functools.lru_cache(maxsize=128)
def demo_window(uf: str | None, modalidade: int, data_inicial: date, data_final: date) -> tuple[Record, ...]:
    """Every demo record of the window, in a stable order: by day, then UF, then publication."""
    ufs = (uf,) if uf else tuple(sorted(UFS))
    out: list[Record] = []
    day = data_inicial
    while day <= data_final:
        for one in ufs:
            out.extend(_day_records(one, modalidade, day))
        day += timedelta(days=1)
    return tuple(out)


def publication_day(record: Mapping[str, Any]) -> str:
    """`yyyy-mm-dd` of `dataPublicacaoPncp`: what `/publicacao` filters on."""
    return str(record.get("dataPublicacaoPncp") or "")[:10]


def update_moment(record: Mapping[str, Any]) -> str:
    """When the record last changed, as PNCP stamps it: `dataAtualizacaoGlobal`, else `dataAtualizacao`."""
    return str(record.get("dataAtualizacaoGlobal") or record.get("dataAtualizacao") or "")


def update_day(record: Mapping[str, Any]) -> str:
    """`yyyy-mm-dd` of `update_moment`: what `/atualizacao` filters on."""
    return update_moment(record)[:10]


def closing_moment(record: Mapping[str, Any]) -> datetime | None:
    """`dataEncerramentoProposta` as a naive Brasília datetime: what `/proposta` filters on."""
    return parse_datetime(record.get("dataEncerramentoProposta"))


def is_open_on(record: Mapping[str, Any], now: datetime, data_final: date) -> bool:
    """Whether `/proposta` lists `record` at `now` (naive Brasília) for this `dataFinal`: divulgada
    (situação 1), and its proposal period closes at `now` or later, on `data_final` at the latest."""
    if record.get("situacaoCompraId") != 1:
        return False
    closing = closing_moment(record)
    return closing is not None and now <= closing and closing.date() <= data_final


def closing_order(record: Mapping[str, Any]) -> tuple[datetime, str]:
    """`/proposta`'s order: closing moment, then `numeroControlePNCP` (ours: PNCP documents none)."""
    return closing_moment(record) or datetime.max, str(record.get("numeroControlePNCP") or "")


@functools.lru_cache(maxsize=128)
def demo_updates(uf: str | None, modalidade: int, data_inicial: date, data_final: date) -> tuple[Record, ...]:
    """The demo records that changed in the window (by `update_day`), oldest change first.

    Candidates are the records published from `ATUALIZACAO_LOOKBACK_DAYS` before the window to
    its end, which covers every demo change (none comes more than `MAX_UPDATE_LAG_DAYS` after
    its publication). Ties keep `demo_window`'s order, so pages are stable.
    """
    ufs = (uf,) if uf else tuple(sorted(UFS))
    start, end = data_inicial.isoformat(), data_final.isoformat()
    changed: list[Record] = []
    day = data_inicial - timedelta(days=ATUALIZACAO_LOOKBACK_DAYS)
    while day <= data_final:
        for one in ufs:
            changed.extend(r for r in _day_records(one, modalidade, day) if start <= update_day(r) <= end)
        day += timedelta(days=1)
    return tuple(sorted(changed, key=update_moment))


@functools.lru_cache(maxsize=32)
def demo_open_candidates(uf: str | None, modalidade: int | None, today: date) -> tuple[Record, ...]:
    """The demo records `/proposta` may list at some moment of `today`, in its order.

    Those published from `PROPOSTA_LOOKBACK_DAYS` before `today` to `today` (none published earlier
    is still open) that are divulgada and close `today` or later; the request's `now` and
    `dataFinal` are applied per request, on this memoized list. `modalidade` None: every one of
    `MODALIDADES`, about twice the work of Pregão Eletrônico alone.
    """
    ufs = (uf,) if uf else tuple(sorted(UFS))
    modalidades = (modalidade,) if modalidade is not None else tuple(MODALIDADES)
    start_of_day = datetime.combine(today, time.min)
    candidates: list[Record] = []
    day = today - timedelta(days=PROPOSTA_LOOKBACK_DAYS)
    while day <= today:
        for one in ufs:
            for each in modalidades:
                candidates.extend(r for r in _day_records(one, each, day) if is_open_on(r, start_of_day, date.max))
        day += timedelta(days=1)
    return tuple(sorted(candidates, key=closing_order))


# --------------------------------------------------------------------------------------------
# The endpoint, shared by the demo app and the HTTP double of the tests
# --------------------------------------------------------------------------------------------


class QueryError(ValueError):
    """A request PNCP refuses, with HTTP `status`: 400 unless a subclass says otherwise."""

    status: ClassVar[int] = 400


class UnprocessableQueryError(QueryError):
    """A well-formed request PNCP still refuses, with HTTP 422: `/proposta` with a past `dataFinal`."""

    status: ClassVar[int] = 422


@dataclass(frozen=True, slots=True)
class PublicacaoQuery:
    data_inicial: date
    data_final: date
    modalidade: int
    uf: str | None = None
    pagina: int = 1
    tamanho_pagina: int = DEFAULT_PAGE_SIZE
    cnpj: str | None = None
    codigo_municipio_ibge: str | None = None
    codigo_unidade: str | None = None


@dataclass(frozen=True, slots=True)
class PropostaQuery:
    """The query of `/proposta`: no window start (it lists what is open now), modalidade optional."""

    data_final: date
    modalidade: int | None = None
    uf: str | None = None
    pagina: int = 1
    tamanho_pagina: int = DEFAULT_PAGE_SIZE
    cnpj: str | None = None
    codigo_municipio_ibge: str | None = None
    codigo_unidade: str | None = None


ConsultaQuery = PublicacaoQuery | PropostaQuery


def _optional_text(params: Mapping[str, str], name: str) -> str | None:
    return (params.get(name) or "").strip() or None


def _parse_date(params: Mapping[str, str], name: str) -> date:
    raw = params.get(name)
    if raw is None or not raw.strip():
        raise QueryError(f"Parâmetro obrigatório '{name}' não informado.")
    try:
        return datetime.strptime(raw.strip(), "%Y%m%d").date()
    except ValueError:
        raise QueryError(f"Parâmetro '{name}' inválido: use o formato yyyyMMdd.") from None


def _parse_int(params: Mapping[str, str], name: str, default: int | None) -> int:
    raw = params.get(name)
    if raw is None or not raw.strip():
        if default is None:
            raise QueryError(f"Parâmetro obrigatório '{name}' não informado.")
        return default
    try:
        return int(raw.strip())
    except ValueError:
        raise QueryError(f"Parâmetro '{name}' inválido: deve ser um número inteiro.") from None


def _parse_modalidade(params: Mapping[str, str]) -> int:
    modalidade = _parse_int(params, "codigoModalidadeContratacao", None)
    if modalidade not in MODALIDADES:
        raise QueryError(f"Código de modalidade de contratação inválido: {modalidade}.")
    return modalidade


def _parse_paging(params: Mapping[str, str]) -> tuple[int, int]:
    """`pagina` and `tamanhoPagina`, within what production accepts: 10 to 50 records a page."""
    pagina = _parse_int(params, "pagina", 1)
    if pagina < 1:
        raise QueryError("O número da página deve ser maior ou igual a 1.")
    tamanho = _parse_int(params, "tamanhoPagina", DEFAULT_PAGE_SIZE)
    if tamanho > MAX_PAGE_SIZE:
        raise QueryError(f"Tamanho de página inválido: o máximo permitido é {MAX_PAGE_SIZE}.")
    if tamanho < MIN_PAGE_SIZE:
        raise QueryError(f"Tamanho de página inválido: o mínimo permitido é {MIN_PAGE_SIZE}.")
    return pagina, tamanho


def _parse_uf(params: Mapping[str, str]) -> str | None:
    uf = (_optional_text(params, "uf") or "").upper() or None
    if uf is not None and uf not in UFS:
        raise QueryError(f"UF inválida: {uf}.")
    return uf


def parse_publicacao_query(params: Mapping[str, str]) -> PublicacaoQuery:
    """The query of `/v1/contratacoes/publicacao`, validated as PNCP does; QueryError if refused.

    `/v1/contratacoes/atualizacao` takes the same parameters with the same rules; its window
    bounds the update date instead of the publication date.
    """
    data_inicial = _parse_date(params, "dataInicial")
    data_final = _parse_date(params, "dataFinal")
    if data_final < data_inicial:
        raise QueryError("A data final deve ser igual ou posterior à data inicial.")
    if (data_final - data_inicial).days > MAX_WINDOW_DAYS:
        raise QueryError(f"O período de consulta não pode ser superior a {MAX_WINDOW_DAYS} dias.")
    modalidade = _parse_modalidade(params)
    pagina, tamanho = _parse_paging(params)
    uf = _parse_uf(params)
    return PublicacaoQuery(
        data_inicial=data_inicial, data_final=data_final, modalidade=modalidade, uf=uf, pagina=pagina,
        tamanho_pagina=tamanho, cnpj=_optional_text(params, "cnpj"),
        codigo_municipio_ibge=_optional_text(params, "codigoMunicipioIbge"),
        codigo_unidade=_optional_text(params, "codigoUnidadeAdministrativa"),
    )


def parse_proposta_query(params: Mapping[str, str], today: date) -> PropostaQuery:
    """The query of `/v1/contratacoes/proposta`, validated as production does; QueryError if refused.

    The checks of `/publicacao` where the parameters are the same; `codigoModalidadeContratacao`
    omitted means every modalidade, `idUsuario` is taken and ignored (records do not carry it).
    A `dataFinal` before `today` (Brasília) is UnprocessableQueryError (422), once every 400 check
    has passed.
    """
    data_final = _parse_date(params, "dataFinal")
    modalidade = None if _optional_text(params, "codigoModalidadeContratacao") is None else _parse_modalidade(params)
    pagina, tamanho = _parse_paging(params)
    uf = _parse_uf(params)
    if data_final < today:
        raise UnprocessableQueryError("A data final não pode ser anterior à data atual.")
    return PropostaQuery(
        data_final=data_final, modalidade=modalidade, uf=uf, pagina=pagina, tamanho_pagina=tamanho,
        cnpj=_optional_text(params, "cnpj"), codigo_municipio_ibge=_optional_text(params, "codigoMunicipioIbge"),
        codigo_unidade=_optional_text(params, "codigoUnidadeAdministrativa"),
    )


def _optional_filters(records: Sequence[Record], query: ConsultaQuery) -> Sequence[Record]:
    if not (query.cnpj or query.codigo_municipio_ibge or query.codigo_unidade):
        return records
    out = []
    for r in records:
        orgao = r.get("orgaoEntidade") or {}
        unidade = r.get("unidadeOrgao") or {}
        if query.cnpj and orgao.get("cnpj") != query.cnpj:
            continue
        if query.codigo_municipio_ibge and str(unidade.get("codigoIbge")) != query.codigo_municipio_ibge:
            continue
        if query.codigo_unidade and str(unidade.get("codigoUnidade")) != query.codigo_unidade:
            continue
        out.append(r)
    return out


DayOf = Callable[[Mapping[str, Any]], str]


def filter_records(
    records: Iterable[Record], query: PublicacaoQuery, day_of: DayOf = publication_day
) -> list[Record]:
    """Records of a fixed list that answer `query` (UF, modalidade, and `day_of` in the window),
    order kept. `day_of` is `publication_day` for `/publicacao`, `update_day` for `/atualizacao`."""
    start, end = query.data_inicial.isoformat(), query.data_final.isoformat()
    out = []
    for r in records:
        if not (start <= day_of(r) <= end):
            continue
        if r.get("modalidadeId") != query.modalidade:
            continue
        if query.uf and str((r.get("unidadeOrgao") or {}).get("ufSigla", "")).upper() != query.uf:
            continue
        out.append(r)
    return out


def page_body(records: Sequence[Record], query: ConsultaQuery) -> dict[str, Any] | None:
    """The JSON envelope of the requested page, or None where PNCP answers 204 (no records)."""
    total = len(records)
    size = query.tamanho_pagina
    pages = math.ceil(total / size) if total else 0
    if total == 0 or query.pagina > pages:
        return None
    first = (query.pagina - 1) * size
    return {
        "data": list(records[first:first + size]),
        "totalRegistros": total,
        "totalPaginas": pages,
        "numeroPagina": query.pagina,
        "paginasRestantes": pages - query.pagina,
        "empty": False,
    }


def error_response(status: int, message: str, path: str) -> JSONResponse:
    """An error the way PNCP's Spring back end writes it."""
    reasons = {400: "Bad Request", 404: "Not Found", 422: "Unprocessable Entity", 500: "Internal Server Error",
               502: "Bad Gateway", 503: "Service Unavailable"}
    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    return JSONResponse(
        {"timestamp": now, "status": status, "error": reasons.get(status, "Error"), "message": message, "path": path},
        status_code=status,
    )


RecordSource = Callable[[PublicacaoQuery], Sequence[Record]]
# `/proposta`'s sources also take the moment of the request (naive Brasília): what is open depends on it.
OpenSource = Callable[[PropostaQuery, datetime], Sequence[Record]]


def demo_source(query: PublicacaoQuery) -> Sequence[Record]:
    """Generated records published in the query's window (memoized): `/publicacao`."""
    return demo_window(query.uf, query.modalidade, query.data_inicial, query.data_final)


def demo_update_source(query: PublicacaoQuery) -> Sequence[Record]:
    """Generated records updated in the query's window (memoized): `/atualizacao`."""
    return demo_updates(query.uf, query.modalidade, query.data_inicial, query.data_final)


def demo_open_source(query: PropostaQuery, now: datetime) -> Sequence[Record]:
    """Generated records open at `now` that close by `dataFinal`, by closing moment: `/proposta`.

    The candidates of the day are memoized (`demo_open_candidates`); only the moment is tested here.
    """
    candidates = demo_open_candidates(query.uf, query.modalidade, now.date())
    return [r for r in candidates if is_open_on(r, now, query.data_final)]


def _index_by_modalidade_uf(records: Iterable[Record]) -> dict[tuple[Any, str | None], list[Record]]:
    """A fixed list by (modalidadeId, UF), with None for "any" in either place; order kept."""
    index: dict[tuple[Any, str | None], list[Record]] = {}
    for record in records:
        modalidade = record.get("modalidadeId")
        uf = str((record.get("unidadeOrgao") or {}).get("ufSigla", "")).upper()
        for key in dict.fromkeys(((modalidade, uf), (modalidade, None), (None, uf), (None, None))):
            index.setdefault(key, []).append(record)
    return index


def fixed_source(records: Sequence[Record], day_of: DayOf = publication_day) -> RecordSource:
    """A source serving a fixed list, filtered like PNCP filters (indexed by modalidade and UF).

    `day_of` picks the date the window bounds: `publication_day` (`/publicacao`) or `update_day`
    (`/atualizacao`)."""
    index = _index_by_modalidade_uf(records)

    def source(query: PublicacaoQuery) -> list[Record]:
        return filter_records(index.get((query.modalidade, query.uf), []), query, day_of)

    return source


def fixed_open_source(records: Sequence[Record]) -> OpenSource:
    """A source serving a fixed list the way `/proposta` does (indexed by modalidade and UF): the
    records `is_open_on` the request's moment and `dataFinal`, by closing moment."""
    index = _index_by_modalidade_uf(records)

    def source(query: PropostaQuery, now: datetime) -> list[Record]:
        candidates = index.get((query.modalidade, query.uf), [])
        return sorted((r for r in candidates if is_open_on(r, now, query.data_final)), key=closing_order)

    return source


def _page_response(records: Sequence[Record], query: ConsultaQuery) -> Response:
    body = page_body(_optional_filters(records, query), query)
    if body is None:
        return Response(status_code=204)
    return JSONResponse(body)


def publicacao_response(params: Mapping[str, str], source: RecordSource, path: str = PUBLICACAO_PATH) -> Response:
    """PNCP's answer to `/v1/contratacoes/publicacao` with these query params: 200, 204 or 400."""
    try:
        query = parse_publicacao_query(params)
    except QueryError as exc:
        return error_response(exc.status, str(exc), path)
    return _page_response(source(query), query)


def atualizacao_response(params: Mapping[str, str], source: RecordSource, path: str = ATUALIZACAO_PATH) -> Response:
    """PNCP's answer to `/v1/contratacoes/atualizacao`: the same validation, envelope and 204 as
    `/publicacao`; what differs is the source (records by update date)."""
    return publicacao_response(params, source, path)


def proposta_response(
    params: Mapping[str, str], source: OpenSource, path: str = PROPOSTA_PATH, now: datetime | None = None
) -> Response:
    """PNCP's answer to `/v1/contratacoes/proposta` at `now` (naive Brasília, by default the clock):
    200, 204, 400, or 422 for a `dataFinal` before today.

    What is known, from the consulta manual (6.4, "Consultar Contratações com Período de
    Recebimento de Propostas em Aberto") and from public clients' observations:

    - parameters: `dataFinal` (required, AAAAMMDD), `pagina` (from 1), `tamanhoPagina`
      (production takes 10 to 50 and answers 400 "Tamanho de página inválido" to 51, though the
      manual says up to 500), `codigoModalidadeContratacao` (required by the manual, optional in
      production: omitted, every modalidade), and the optional `uf`, `codigoMunicipioIbge`,
      `cnpj`, `codigoUnidadeAdministrativa`, `idUsuario`. No `dataInicial`;
    - a `dataFinal` before today (Brasília) is refused with HTTP 422;
    - the envelope, the 204 and the records are those of `/publicacao`;
    - it lists the contratações whose proposal period is open now and closes by the end of
      `dataFinal`, whatever their publication date: `dataFinal` = today gave only the 2 records
      closing that afternoon, a month ahead gave 395 for DF alone, publications of previous years
      among them.

    The sources implement that rule (`is_open_on`). The order, by closing moment then
    `numeroControlePNCP`, is ours: PNCP does not document its own.
    """
    moment = now if now is not None else now_brasilia()
    try:
        query = parse_proposta_query(params, moment.date())
    except QueryError as exc:
        return error_response(exc.status, str(exc), path)
    return _page_response(source(query, moment), query)


def consulta_app(
    publicacao: RecordSource, atualizacao: RecordSource | None = None, proposta: OpenSource | None = None
) -> Starlette:
    """A Starlette app serving `/v1/contratacoes/publicacao` and, given their sources,
    `/v1/contratacoes/atualizacao` and `/v1/contratacoes/proposta` (each under every root PNCP uses).

    `/proposta`'s handler is a plain function, which Starlette runs in its thread pool: the
    first national page of a day generates 50 days of records (a second of CPU), which must not
    stop the event loop of the process the demo runs in (`PNCP_BASE_URL=demo` serves it inside
    the service). The others generate one window's records, memoized, on the loop."""

    async def by_publication(request: Request) -> Response:
        return publicacao_response(request.query_params, publicacao, request.url.path)

    routes = [Route(path, by_publication, methods=["GET"]) for path in PUBLICACAO_PATHS]
    if atualizacao is not None:
        updates = atualizacao

        async def by_update(request: Request) -> Response:
            return atualizacao_response(request.query_params, updates, request.url.path)

        routes += [Route(path, by_update, methods=["GET"]) for path in ATUALIZACAO_PATHS]
    if proposta is not None:
        open_now = proposta

        def by_open_period(request: Request) -> Response:
            return proposta_response(request.query_params, open_now, request.url.path)

        routes += [Route(path, by_open_period, methods=["GET"]) for path in PROPOSTA_PATHS]
    return Starlette(routes=routes)


def publicacao_app(source: RecordSource) -> Starlette:
    """A Starlette app serving only `/v1/contratacoes/publicacao` (under every root PNCP uses)."""
    return consulta_app(source)


def create_demo_app() -> Starlette:
    """The demo PNCP: generated records, served as `/v1/contratacoes/publicacao`, `/atualizacao`
    and `/proposta`."""
    return consulta_app(demo_source, demo_update_source, demo_open_source)


def demo_transport() -> httpx.AsyncBaseTransport:
    """An httpx transport to the demo app; use with `base_url=DEMO_BASE_URL`."""
    return httpx.ASGITransport(app=create_demo_app())
