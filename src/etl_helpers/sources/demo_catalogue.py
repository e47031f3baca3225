"""The demo's fixed data: the French regions and communes its stores stand in, the shelf
catalogue its products are drawn from, and the planted products with their fixed codes.

Only data lives here; how it is used (shares, rates, seasonality) is in ``demo``. Every
value is embedded, so the demo needs neither a network nor the seed data.
"""

from __future__ import annotations

# Products planted with fixed codes (independent of seed and scale).
PASTA, TOMATO_SAUCE, BURGER_BUNS, MINCED_BEEF, CHEDDAR, COFFEE, COFFEE_FILTERS = (
    "P00001", "P00002", "P00003", "P00004", "P00005", "P00006", "P00007")

# Metropolitan regions: code, name, INSEE legal population 2021 (population municipale,
# in force on 1 January 2024).
REGIONS: tuple[tuple[str, str, int], ...] = (
    ("IDF", "Île-de-France", 12_317_279),
    ("ARA", "Auvergne-Rhône-Alpes", 8_114_361),
    ("NAQ", "Nouvelle-Aquitaine", 6_069_352),
    ("OCC", "Occitanie", 6_022_176),
    ("HDF", "Hauts-de-France", 5_995_292),
    ("GES", "Grand Est", 5_561_287),
    ("PAC", "Provence-Alpes-Côte d'Azur", 5_127_840),
    ("PDL", "Pays de la Loire", 3_853_999),
    ("BRE", "Bretagne", 3_394_567),
    ("NOR", "Normandie", 3_327_966),
    ("BFC", "Bourgogne-Franche-Comté", 2_800_194),
    ("CVL", "Centre-Val de Loire", 2_573_303),
    ("COR", "Corse", 347_597),
)

# Real communes: name, a postal code of the commune, region code.
CITIES: tuple[tuple[str, str, str], ...] = (
    ("Paris", "75011", "IDF"), ("Boulogne-Billancourt", "92100", "IDF"), ("Saint-Denis", "93200", "IDF"),
    ("Argenteuil", "95100", "IDF"), ("Montreuil", "93100", "IDF"), ("Versailles", "78000", "IDF"),
    ("Créteil", "94000", "IDF"), ("Nanterre", "92000", "IDF"), ("Évry-Courcouronnes", "91000", "IDF"),
    ("Meaux", "77100", "IDF"), ("Cergy", "95000", "IDF"),
    ("Lyon", "69003", "ARA"), ("Villeurbanne", "69100", "ARA"), ("Saint-Étienne", "42000", "ARA"),
    ("Grenoble", "38000", "ARA"), ("Clermont-Ferrand", "63000", "ARA"), ("Annecy", "74000", "ARA"),
    ("Chambéry", "73000", "ARA"), ("Valence", "26000", "ARA"), ("Vichy", "03200", "ARA"),
    ("Bordeaux", "33000", "NAQ"), ("Limoges", "87000", "NAQ"), ("Poitiers", "86000", "NAQ"),
    ("Pau", "64000", "NAQ"), ("La Rochelle", "17000", "NAQ"), ("Bayonne", "64100", "NAQ"),
    ("Angoulême", "16000", "NAQ"), ("Niort", "79000", "NAQ"), ("Périgueux", "24000", "NAQ"),
    ("Agen", "47000", "NAQ"),
    ("Toulouse", "31000", "OCC"), ("Montpellier", "34000", "OCC"), ("Nîmes", "30000", "OCC"),
    ("Perpignan", "66000", "OCC"), ("Béziers", "34500", "OCC"), ("Carcassonne", "11000", "OCC"),
    ("Albi", "81000", "OCC"), ("Montauban", "82000", "OCC"), ("Tarbes", "65000", "OCC"),
    ("Sète", "34200", "OCC"),
    ("Lille", "59000", "HDF"), ("Amiens", "80000", "HDF"), ("Roubaix", "59100", "HDF"),
    ("Dunkerque", "59140", "HDF"), ("Calais", "62100", "HDF"), ("Arras", "62000", "HDF"),
    ("Beauvais", "60000", "HDF"), ("Compiègne", "60200", "HDF"), ("Saint-Quentin", "02100", "HDF"),
    ("Strasbourg", "67000", "GES"), ("Reims", "51100", "GES"), ("Metz", "57000", "GES"),
    ("Mulhouse", "68100", "GES"), ("Nancy", "54000", "GES"), ("Colmar", "68000", "GES"),
    ("Troyes", "10000", "GES"), ("Charleville-Mézières", "08000", "GES"), ("Épinal", "88000", "GES"),
    ("Marseille", "13008", "PAC"), ("Nice", "06000", "PAC"), ("Toulon", "83000", "PAC"),
    ("Aix-en-Provence", "13090", "PAC"), ("Avignon", "84000", "PAC"), ("Cannes", "06400", "PAC"),
    ("Antibes", "06600", "PAC"), ("Gap", "05000", "PAC"),
    ("Nantes", "44000", "PDL"), ("Angers", "49000", "PDL"), ("Le Mans", "72000", "PDL"),
    ("Saint-Nazaire", "44600", "PDL"), ("La Roche-sur-Yon", "85000", "PDL"), ("Laval", "53000", "PDL"),
    ("Cholet", "49300", "PDL"),
    ("Le Havre", "76600", "NOR"), ("Rouen", "76000", "NOR"), ("Caen", "14000", "NOR"),
    ("Cherbourg-en-Cotentin", "50100", "NOR"), ("Évreux", "27000", "NOR"), ("Dieppe", "76200", "NOR"),
    ("Alençon", "61000", "NOR"), ("Lisieux", "14100", "NOR"), ("Saint-Lô", "50000", "NOR"),
    ("Rennes", "35000", "BRE"), ("Brest", "29200", "BRE"), ("Quimper", "29000", "BRE"),
    ("Lorient", "56100", "BRE"), ("Vannes", "56000", "BRE"), ("Saint-Malo", "35400", "BRE"),
    ("Saint-Brieuc", "22000", "BRE"),
    ("Dijon", "21000", "BFC"), ("Besançon", "25000", "BFC"), ("Belfort", "90000", "BFC"),
    ("Chalon-sur-Saône", "71100", "BFC"), ("Auxerre", "89000", "BFC"), ("Mâcon", "71000", "BFC"),
    ("Nevers", "58000", "BFC"), ("Dole", "39100", "BFC"),
    ("Tours", "37000", "CVL"), ("Orléans", "45000", "CVL"), ("Bourges", "18000", "CVL"),
    ("Blois", "41000", "CVL"), ("Chartres", "28000", "CVL"), ("Châteauroux", "36000", "CVL"),
    ("Vierzon", "18100", "CVL"),
    ("Ajaccio", "20000", "COR"), ("Bastia", "20200", "COR"), ("Porto-Vecchio", "20137", "COR"),
)

# Store names: the banner's label, the city, and a district for a second store of the same banner
# in the same city.
BANNER_LABELS = {"hyper": "Lutèce Hyper", "super": "Lutèce Super", "proxi": "Lutèce Proxi"}
DISTRICTS = ("Centre", "Nord", "Sud", "Est", "Ouest", "Gare", "Port", "Les Halles")

# Catalogue: category -> subcategories (name, items, (min, max) list price in euros,
# brands, sizes). An empty brand tuple means fresh goods without a brand.
CATALOGUE: dict[str, tuple[tuple[str, tuple[str, ...], tuple[float, float], tuple[str, ...], tuple[str, ...]], ...]] = {
    "Épicerie salée": (
        ("Pâtes", ("Spaghetti", "Penne", "Fusilli", "Tagliatelles", "Coquillettes", "Farfalle"),
         (0.79, 3.49), ("Panzani", "Barilla", "Lustucru", "Rivoire et Carret", "Marque distributeur"),
         ("500 g", "1 kg")),
        ("Sauces", ("Sauce bolognaise", "Pesto vert", "Sauce arrabbiata", "Ketchup", "Mayonnaise"),
         (1.19, 3.99), ("Panzani", "Barilla", "Heinz", "Amora", "Marque distributeur"), ("190 g", "400 g")),
        ("Riz et céréales", ("Riz basmati", "Riz long", "Semoule", "Quinoa", "Lentilles vertes"),
         (1.09, 4.49), ("Taureau Ailé", "Tipiak", "Marque distributeur"), ("500 g", "1 kg")),
        ("Conserves", ("Haricots verts", "Petits pois carottes", "Thon au naturel", "Sardines à l'huile",
                       "Maïs doux", "Cassoulet"),
         (0.99, 5.49), ("Bonduelle", "D'aucy", "Petit Navire", "Saupiquet", "Marque distributeur"),
         ("boîte 1/2", "boîte 4/4", "lot de 3")),
        ("Apéritif", ("Chips nature", "Cacahuètes grillées", "Crackers", "Olives vertes"),
         (0.99, 3.99), ("Lay's", "Bénénuts", "Vico", "Belin", "Marque distributeur"), ("150 g", "300 g")),
    ),
    "Épicerie sucrée": (
        ("Biscuits", ("Petits beurre", "Cookies", "Palmiers", "Galettes bretonnes", "Madeleines"),
         (0.99, 3.49), ("LU", "St Michel", "Bonne Maman", "Gerblé", "Marque distributeur"), ("200 g", "400 g")),
        ("Petit-déjeuner", ("Céréales chocolat", "Muesli", "Pâte à tartiner", "Confiture fraise", "Miel"),
         (1.49, 5.99), ("Kellogg's", "Nestlé", "Bonne Maman", "Marque distributeur"), ("375 g", "750 g")),
        ("Chocolat", ("Tablette noir 70 %", "Tablette lait", "Bouchées pralinées", "Chocolat pâtissier"),
         (1.29, 4.99), ("Côte d'Or", "Lindt", "Milka", "Poulain", "Marque distributeur"), ("100 g", "200 g")),
        ("Café et thé", ("Café en grains", "Capsules espresso", "Thé vert", "Infusion verveine"),
         (1.99, 8.99), ("Carte Noire", "L'Or", "Lavazza", "Lipton", "Marque distributeur"), ("x20", "500 g")),
    ),
    "Boissons": (
        ("Eaux", ("Eau minérale", "Eau gazeuse", "Eau de source"),
         (0.25, 3.99), ("Evian", "Volvic", "Badoit", "Perrier", "Cristaline"), ("50 cl", "1,5 L", "6 x 1,5 L")),
        ("Sodas et jus", ("Cola", "Limonade", "Jus d'orange", "Thé glacé", "Sirop de grenadine"),
         (0.89, 4.99), ("Coca-Cola", "Orangina", "Tropicana", "Teisseire", "Marque distributeur"),
         ("1 L", "1,5 L", "6 x 33 cl")),
        ("Vins", ("Bordeaux rouge", "Côtes-du-Rhône", "Rosé de Provence", "Muscadet", "Chablis", "Champagne brut"),
         (3.49, 29.90), ("Cellier des Dauphins", "Mouton Cadet", "Nicolas Feuillatte", "Marque distributeur"),
         ("75 cl",)),
        ("Bières", ("Blonde", "Blanche", "IPA", "Ambrée"),
         (2.49, 9.99), ("Kronenbourg", "1664", "Pelforth", "Grimbergen"), ("6 x 25 cl", "75 cl")),
    ),
    "Produits laitiers": (
        ("Lait", ("Lait demi-écrémé", "Lait entier", "Boisson avoine"),
         (0.89, 6.49), ("Lactel", "Candia", "Bjorg", "Marque distributeur"), ("1 L", "6 x 1 L")),
        ("Yaourts et desserts", ("Yaourt nature", "Yaourt aux fruits", "Fromage blanc", "Crème dessert vanille"),
         (1.19, 3.99), ("Danone", "Yoplait", "Danette", "Marque distributeur"), ("4 x 125 g", "8 x 125 g")),
        ("Fromages", ("Camembert", "Comté 12 mois", "Emmental râpé", "Roquefort", "Bûche de chèvre"),
         (1.49, 8.99), ("Président", "Entremont", "Société", "Soignon", "Marque distributeur"),
         ("200 g", "250 g")),
        ("Beurre et crème", ("Beurre doux", "Beurre demi-sel", "Crème fraîche épaisse", "Crème liquide"),
         (1.29, 4.49), ("Président", "Elle & Vire", "Paysan Breton", "Marque distributeur"), ("250 g", "20 cl")),
    ),
    "Boucherie et charcuterie": (
        ("Boeuf", ("Steak haché 15 %", "Entrecôte", "Rôti de boeuf", "Boeuf bourguignon"),
         (3.99, 19.99), ("Charal", "Bigard", "Boucherie du magasin"), ("2 x 125 g", "300 g", "1 kg")),
        ("Volaille", ("Filet de poulet", "Cuisses de poulet", "Poulet fermier entier", "Escalope de dinde"),
         (3.49, 14.99), ("Le Gaulois", "Maître Coq", "Loué"), ("400 g", "1 kg")),
        ("Charcuterie", ("Jambon blanc", "Saucisson sec", "Lardons fumés", "Rillettes", "Chorizo"),
         (1.49, 6.99), ("Herta", "Fleury Michon", "Aoste", "Justin Bridou", "Marque distributeur"),
         ("4 tranches", "200 g")),
    ),
    "Fruits et légumes": (
        ("Fruits", ("Pommes Gala", "Bananes", "Oranges à jus", "Clémentines", "Fraises", "Raisin blanc"),
         (1.49, 4.99), (), ("1 kg", "barquette 500 g", "filet 2 kg")),
        ("Légumes", ("Tomates grappe", "Carottes", "Pommes de terre", "Courgettes", "Salade batavia",
                     "Oignons jaunes"),
         (0.99, 3.99), (), ("1 kg", "pièce", "filet 2,5 kg")),
    ),
    "Surgelés": (
        ("Plats cuisinés", ("Pizza 4 fromages", "Lasagnes bolognaise", "Hachis parmentier", "Paëlla"),
         (2.49, 7.99), ("Picard", "Buitoni", "Findus", "Marie", "Marque distributeur"), ("400 g", "1 kg")),
        ("Glaces", ("Bâtonnets vanille", "Cônes chocolat", "Sorbet citron", "Bac vanille"),
         (2.49, 6.99), ("Magnum", "Carte d'Or", "Miko", "Marque distributeur"), ("x4", "900 ml")),
        ("Légumes surgelés", ("Haricots verts extra-fins", "Épinards hachés", "Poêlée de légumes", "Frites"),
         (1.29, 4.49), ("Bonduelle", "McCain", "Picard", "Marque distributeur"), ("750 g", "1 kg")),
    ),
    "Boulangerie": (
        ("Pain", ("Baguette tradition", "Pain de campagne", "Pain complet"),
         (0.95, 3.49), ("Boulangerie du magasin",), ("250 g", "400 g")),
        ("Viennoiseries", ("Croissants", "Pains au chocolat", "Brioche tranchée"),
         (1.49, 4.49), ("Pasquier", "Harrys", "Boulangerie du magasin"), ("x4", "x8")),
        ("Pains spéciaux", ("Pain de mie", "Pains hot-dog", "Wraps"),
         (1.19, 3.49), ("Harrys", "Jacquet", "Marque distributeur"), ("x6", "500 g")),
    ),
    "Hygiène et beauté": (
        ("Soins corps", ("Gel douche", "Déodorant", "Crème hydratante", "Savon"),
         (1.49, 7.99), ("Dove", "Nivea", "Le Petit Marseillais", "Mixa", "Marque distributeur"),
         ("250 ml", "400 ml")),
        ("Capillaires", ("Shampooing", "Après-shampooing", "Masque cheveux"),
         (1.99, 8.49), ("Elsève", "Garnier", "Head & Shoulders", "Marque distributeur"), ("250 ml", "400 ml")),
        ("Hygiène dentaire", ("Dentifrice", "Brosse à dents", "Bain de bouche"),
         (1.29, 5.99), ("Signal", "Colgate", "Elmex", "Marque distributeur"), ("75 ml", "x2")),
    ),
    "Entretien": (
        ("Lessive", ("Lessive liquide", "Lessive capsules", "Adoucissant"),
         (2.99, 14.99), ("Ariel", "Skip", "Le Chat", "Lenor", "Marque distributeur"), ("x20", "2 L")),
        ("Vaisselle", ("Liquide vaisselle", "Tablettes lave-vaisselle", "Éponges"),
         (0.99, 9.99), ("Paic", "Finish", "Spontex", "Marque distributeur"), ("x3", "500 ml", "x40")),
        ("Papier", ("Papier toilette", "Essuie-tout", "Mouchoirs"),
         (1.49, 8.99), ("Lotus", "Okay", "Kleenex", "Marque distributeur"), ("x6", "x12")),
    ),
}
CATEGORY_SHARES = {
    "Épicerie salée": 0.14, "Épicerie sucrée": 0.12, "Boissons": 0.13, "Produits laitiers": 0.13,
    "Boucherie et charcuterie": 0.10, "Fruits et légumes": 0.08, "Surgelés": 0.08, "Boulangerie": 0.06,
    "Hygiène et beauté": 0.08, "Entretien": 0.08,
}

# The planted products: code, name, category, subcategory, brand, list price.
PLANTED_PRODUCTS: tuple[tuple[str, str, str, str, str, float], ...] = (
    (PASTA, "Spaghetti n°5 Panzani 500 g", "Épicerie salée", "Pâtes", "Panzani", 1.29),
    (TOMATO_SAUCE, "Sauce tomate basilic Panzani 400 g", "Épicerie salée", "Sauces", "Panzani", 2.19),
    (BURGER_BUNS, "Pains burger x4 Harrys", "Boulangerie", "Pains spéciaux", "Harrys", 1.89),
    (MINCED_BEEF, "Viande hachée 5 % MG Charal 2 x 125 g", "Boucherie et charcuterie", "Boeuf", "Charal", 4.49),
    (CHEDDAR, "Cheddar tranches x10 Président 200 g", "Produits laitiers", "Fromages", "Président", 2.39),
    (COFFEE, "Café moulu Carte Noire 250 g", "Épicerie sucrée", "Café et thé", "Carte Noire", 3.49),
    (COFFEE_FILTERS, "Filtres à café n°4 x80 Marque distributeur", "Épicerie sucrée", "Café et thé",
     "Marque distributeur", 1.19),
)
